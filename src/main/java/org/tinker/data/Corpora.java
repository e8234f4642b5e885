package org.tinker.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tinker.config.DataParams;

/**
 * The corpora shipped in the jar under {@code /corpora/} (see {@code corpora/PROVENANCE.md}).
 * <ul>
 *   <li>{@code ptb}: Penn Treebank (Mikolov), its own train/valid/test; each line trimmed (the files pad every
 *       line with spaces); {@code lines_per_sample} lines per sample, -1 = a whole split per sample.
 *   <li>{@code wikitext-2} (alias {@code wikitext}): its own splits; lines are regrouped into articles as the
 *       reference did: an article starts at a title line {@code " = X = "} (trimmed, it starts with {@code "= "},
 *       ends with {@code " ="} and holds exactly two {@code '='}; section headings {@code " = = X = = "} do not
 *       start one) and runs to the next; lines before the first title are dropped; lines are trimmed, blank lines
 *       dropped, and an article's lines joined with {@code "\n"}. Here {@code lines_per_sample} counts
 *       <em>articles</em> (default 1 = one article per sample, as the reference; -1 = a whole split).
 *   <li>{@code tinyshakespeare}: one file, no splits of its own: lines kept as they are (blank ones dropped), cut
 *       by {@link SplitRule}, then {@code lines_per_sample} lines per sample.
 * </ul>
 */
public final class Corpora {
    private Corpora() {}

    /** Canonical names, and the aliases that map to them. */
    public static final List<String> NAMES = List.of("ptb", "wikitext-2", "tinyshakespeare");

    public static final Map<String, String> ALIASES = Map.of("wikitext", "wikitext-2", "wikitext2", "wikitext-2",
            "shakespeare", "tinyshakespeare", "penn-treebank", "ptb");

    /** The canonical name for a corpus name or alias, or null. */
    public static String canonical(String name) {
        if (NAMES.contains(name)) return name;
        return ALIASES.get(name);
    }

    /** Non-blank lines of a shipped file, e.g. {@code lines("ptb", "train", true)}. */
    public static List<String> lines(String corpus, String file, boolean trim) {
        String res = "/corpora/" + corpus + "/" + file + ".txt.gz";
        InputStream in = Corpora.class.getResourceAsStream(res);
        if (in == null) throw new IllegalStateException("resource missing from the jar: " + res);
        try {
            return TextFiles.lines(in, true, trim);
        } catch (IOException e) {
            throw new UncheckedIOException("reading resource " + res, e);
        }
    }

    /** Loads a corpus by canonical name. */
    public static Splits load(String canonicalName, DataParams dp) {
        int lps = dp.lines_per_sample();
        return switch (canonicalName) {
            case "ptb" -> ownSplits(dp, split -> SplitRule.group(lines("ptb", split, true), lps));
            case "wikitext-2" -> ownSplits(dp, split -> SplitRule.group(articles(lines("wikitext-2", split, true)), lps));
            case "tinyshakespeare" -> LocalData.unsplitLines(lines("tinyshakespeare", "input", false), dp);
            default -> throw new IllegalArgumentException("not a shipped corpus: " + canonicalName);
        };
    }

    private static Splits ownSplits(DataParams dp, java.util.function.Function<String, List<Sample>> read) {
        return new Splits(SplitRule.crop(read.apply("train"), dp.debug_crop()),
                SplitRule.crop(read.apply("valid"), dp.debug_crop()),
                SplitRule.crop(read.apply("test"), dp.debug_crop()), true);
    }

    /** WikiText title line ({@code = X =}, exactly two {@code '='}), given a trimmed line. */
    static boolean isTitle(String trimmed) {
        if (!trimmed.startsWith("= ") || !trimmed.endsWith(" =")) return false;
        int n = 0;
        for (int i = 0; i < trimmed.length(); i++) if (trimmed.charAt(i) == '=') n++;
        return n == 2;
    }

    /** Regroups trimmed, non-blank WikiText lines into articles (one string each, lines joined by newlines). */
    static List<String> articles(List<String> lines) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = null;
        for (String line : lines) {
            if (isTitle(line)) {
                if (cur != null) out.add(cur.toString());
                cur = new StringBuilder(line);
            } else if (cur != null) {
                cur.append('\n').append(line);
            }
        }
        if (cur != null) out.add(cur.toString());
        return out;
    }
}
