package org.tinker.model.gpt2;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.tinker.data.Gpt2Tokenizer;

/**
 * GPT-2 BPE encoding throughput on WikiText-2 train (the bundled corpus), cold (empty word cache) and warm.
 * Off by default; run with {@code mvn -o test -Dtest=Gpt2TokenizerBenchmark -Dtinker.bench=true}.
 */
@EnabledIfSystemProperty(named = "tinker.bench", matches = "true")
class Gpt2TokenizerBenchmark {
    @Test
    void encodeWikiText2Train() throws Exception {
        String text;
        try (InputStream in = new GZIPInputStream(Gpt2TokenizerBenchmark.class.getResourceAsStream("/corpora/wikitext-2/train.txt.gz"))) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        double mb = text.getBytes(StandardCharsets.UTF_8).length / 1e6;
        Gpt2Tokenizer tok = Gpt2Tokenizer.fromFolder(Gpt2Fixtures.tinyGpt2()); // a fresh model: cold cache
        for (int pass = 0; pass < 3; pass++) {
            long t0 = System.nanoTime();
            int n = tok.encode(text).length;
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("pass %d (%s): %.2f MB -> %,d tokens in %.2f s = %.2f MB/s%n", pass, pass == 0 ? "cold cache" : "warm cache",
                    mb, n, s, mb / s);
        }
    }
}
