import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPInputStream;
import org.tinker.data.Gpt2Tokenizer;

/**
 * GPT-2 BPE encoding throughput on WikiText-2 train (the corpus in the jar): the first pass with an empty word cache,
 * then two warm ones.
 *   java -cp "target/runner.jar:target/lib/*" bench/TokenizerSpeed.java
 */
public final class TokenizerSpeed {
    public static void main(String[] args) throws Exception {
        String text;
        try (InputStream in = new GZIPInputStream(Gpt2Tokenizer.class.getResourceAsStream("/corpora/wikitext-2/train.txt.gz"))) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        double mb = text.getBytes(StandardCharsets.UTF_8).length / 1e6;
        Gpt2Tokenizer tok = Gpt2Tokenizer.full(); // built on first use in this JVM: its word cache starts empty
        for (int pass = 0; pass < 3; pass++) {
            long t0 = System.nanoTime();
            int n = tok.encode(text).length;
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("pass %d (%s): %.2f MB -> %,d tokens in %.2f s = %.2f MB/s%n", pass, pass == 0 ? "cold cache" : "warm cache",
                    mb, n, s, mb / s);
        }
    }
}
