package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sample, perplexity, attentions, logit-lens and logits on a Hugging Face checkpoint folder ({@code --pretrained}, the
 * tiny GPT-2 fixture); giving both or neither of --timestamp and --pretrained is a one-line error.
 */
class PretrainedExploreCommandsTest {
    static final String TINY = "--pretrained=src/test/resources/tiny-gpt2";

    static MainTest.Outcome ok(String... args) {
        MainTest.Outcome o = MainTest.run(args);
        assertEquals(0, o.code(), String.join(" ", args) + ": " + o.err());
        return o;
    }

    @Test
    void everyCommandOpensAPretrainedFolder(@TempDir Path tmp) throws Exception {
        String od = "--out-dir=" + tmp;
        MainTest.Outcome s = ok("sample", TINY, "--prefix=Hello", "--max-len=8", "--temperature=0");
        assertTrue(s.out().contains("KV cache"), s.out());
        assertEquals(s.out().lines().findFirst(), ok("sample", TINY, "--prefix=Hello", "--max-len=8", "--temperature=0", "--no-cache").out().lines().findFirst());

        Path lines = Files.writeString(tmp.resolve("lines.txt"), "Hello world.\nThe cat sat on the mat.\n");
        MainTest.Outcome p = ok("perplexity", TINY, "--text-file=" + lines);
        assertTrue(p.out().startsWith("perplexity of tiny-gpt2 on " + lines + " (2 lines): "), p.out());

        MainTest.Outcome a = ok("attentions", TINY, od, "--text=Hello world", "--layers=1");
        assertTrue(a.out().contains("wrote 2 heatmaps to " + tmp.resolve("attentions/pretrained/tiny-gpt2")), a.out());
        assertTrue(Files.isRegularFile(tmp.resolve("attentions/pretrained/tiny-gpt2/L1-H1.png")));

        MainTest.Outcome l = ok("logit-lens", TINY, od, "--text=Hello world", "--mode=ranks", "--subblocks");
        assertTrue(l.out().contains(tmp.resolve("lens/tiny-gpt2-ranks-subblocks.png").toString()), l.out());

        Path out = tmp.resolve("logits.safetensors");
        assertTrue(ok("logits", TINY, "--ids=15496,995", "--out=" + out).out().startsWith("wrote " + out + ": logits (2, 50257)"));
        assertTrue(Files.size(out) > 2 * 50257 * 4);
    }

    @Test
    void bothOrNeitherOfTimestampAndPretrainedIsOneLineError(@TempDir Path tmp) {
        String ts = "--timestamp=2026-01-01--00-00-00", sm = "--saved-models=" + tmp;
        for (String[] cmd : new String[][] {{"sample"}, {"perplexity", "--text-file=x.txt"}, {"attentions", "--text=hi"},
                {"logit-lens", "--text=hi"}, {"logits", "--ids=1,2", "--out=" + tmp.resolve("x.safetensors")}}) {
            for (String[] choice : new String[][] {{}, {ts, TINY}}) {
                String[] args = new String[cmd.length + choice.length + 1];
                System.arraycopy(cmd, 0, args, 0, cmd.length);
                System.arraycopy(choice, 0, args, cmd.length, choice.length);
                args[args.length - 1] = sm;
                MainTest.Outcome o = MainTest.run(args);
                String what = String.join(" ", args) + ": " + o.err();
                assertEquals(2, o.code(), what);
                assertEquals(1, o.err().strip().lines().count(), what);
                assertTrue(o.err().startsWith("error: ") && o.err().contains("--timestamp") && o.err().contains("--pretrained"), what);
            }
        }
        MainTest.Outcome c = MainTest.run("sample", TINY, "--checkpoint=800", "--max-len=4");
        assertEquals(2, c.code(), c.err());
        assertEquals("error: --checkpoint=800: a saved run's, not with --pretrained", c.err().strip());
    }
}
