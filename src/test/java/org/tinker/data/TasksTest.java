package org.tinker.data;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.config.ConfigError;
import org.tinker.config.DataParams;

class TasksTest {
    @TempDir Path root;

    static List<Integer> sizes(Splits s) {
        return List.of(s.train().size(), s.valid().size(), s.test().size());
    }

    @Test
    void ptbHasItsOwnSplitsWithTheRightLineCounts() {
        long t0 = System.nanoTime();
        LoadedTask t = Tasks.load(TestParams.of("ptb"), root);
        System.out.printf("loading PTB: %.0f ms%n", (System.nanoTime() - t0) / 1e6);
        assertEquals("ptb", t.name());
        assertFalse(t.synthetic());
        assertTrue(t.splits().hasOwnSplits());
        assertEquals(List.of(42_068, 3_370, 3_761), sizes(t.splits()));
        assertEquals("aer banknote berlitz calloway centrust cluett fromstein gitano guterman hydro-quebec ipo kia "
                + "memotec mlx nahb punts rake regatta rubens sim snack-food ssangyong swapo wachter", t.splits().train().get(0).text());
        // 10 lines per sample, last sample shorter; -1 = whole split
        LoadedTask t10 = Tasks.load(TestParams.of("ptb", null, false, 10, -1, 1), root);
        assertEquals(List.of(4_207, 337, 377), sizes(t10.splits()));
        assertEquals(10, t10.splits().train().get(0).text().split("\n").length);
        LoadedTask whole = Tasks.load(TestParams.of("ptb", null, false, -1, -1, 1), root);
        assertEquals(List.of(1, 1, 1), sizes(whole.splits()));
        assertEquals(3_370, whole.splits().valid().get(0).text().split("\n").length);
    }

    @Test
    void debugCropKeepsTheFirstSamplesOfEachOwnSplit() {
        LoadedTask t = Tasks.load(TestParams.of("ptb", 7, false, 1, -1, 1), root);
        assertEquals(List.of(7, 7, 7), sizes(t.splits()));
        assertTrue(t.splits().valid().get(0).text().startsWith("consumers may want"));
    }

    @Test
    void wikitextIsRegroupedIntoArticles() {
        LoadedTask t = Tasks.load(TestParams.of("wikitext"), root);
        assertEquals("wikitext-2", t.name());
        Splits s = t.splits();
        assertTrue(s.hasOwnSplits());
        assertEquals(List.of(629, 60, 62), sizes(s)); // title lines by the rule (two lines in test look like titles)
        String first = s.train().get(0).text();
        assertTrue(first.startsWith("= Valkyria Chronicles III =\nSenjō no Valkyria 3"), first.substring(0, 60));
        assertTrue(first.contains("\n= = Gameplay = =\n"), "section headings stay inside the article");
        for (Sample a : s.valid()) assertTrue(Corpora.isTitle(a.text().split("\n", 2)[0]));
        assertTrue(Corpora.isTitle("= Robert Boulter ="));
        assertFalse(Corpora.isTitle("= = Career = ="));
        assertFalse(Corpora.isTitle("a = b"));
    }

    @Test
    void tinyShakespeareIsCutByLinesInFileOrder() {
        LoadedTask t = Tasks.load(TestParams.of("tinyshakespeare"), root);
        Splits s = t.splits();
        assertFalse(s.hasOwnSplits());
        int n = 40_000 - 7_223; // non-blank lines
        assertEquals(List.of(n - 3_277 - 1_638, 3_277, 1_638), sizes(s));
        assertEquals("First Citizen:", s.train().get(0).text());
        LoadedTask t2 = Tasks.load(TestParams.withPct(TestParams.of("tinyshakespeare", null, false, -1, -1, 1), 20, 1), root);
        assertEquals(List.of(1, 1, 1), sizes(t2.splits()));
        int lines = t2.splits().valid().get(0).text().split("\n").length;
        assertEquals(n * 20 / 100, lines);
    }

    @Test
    void splitRule() {
        assertArrayEquals(new int[] {85, 10, 5}, SplitRule.sizes(100, 10, 5));
        assertArrayEquals(new int[] {8, 1, 1}, SplitRule.sizes(10, 10, 5));
        assertArrayEquals(new int[] {1, 1, 1}, SplitRule.sizes(3, 10, 5));
        assertArrayEquals(new int[] {1, 1, 0}, SplitRule.sizes(2, 10, 5));
        assertArrayEquals(new int[] {1, 0, 0}, SplitRule.sizes(1, 10, 5));
        assertArrayEquals(new int[] {0, 0, 0}, SplitRule.sizes(0, 10, 5));
        assertArrayEquals(new int[] {10, 0, 0}, SplitRule.sizes(10, 0, 0));
    }

    @Test
    void syntheticIsCutBySamplesTrainFirst() {
        DataParams dp = TestParams.of("copy", null, false, 1, -1, 1000);
        LoadedTask t = Tasks.load(dp, root);
        assertTrue(t.synthetic());
        assertEquals(List.of(850, 100, 50), sizes(t.splits()));
        List<Sample> all = SyntheticTasks.generate("copy", 1000);
        assertEquals(all.subList(0, 850), t.splits().train());
        assertEquals(all.subList(850, 950), t.splits().valid());
        LoadedTask cropped = Tasks.load(TestParams.of("copy", 40, false, 1, -1, 1000), root);
        assertEquals(List.of(34, 4, 2), sizes(cropped.splits()));
        assertEquals(all.subList(0, 34), cropped.splits().train());
    }

    void writeDataPath(String content) throws Exception {
        Files.writeString(root.resolve("data-path.txt"), content + "\n");
    }

    @Test
    void localFolderWithOwnSplits() throws Exception {
        Path d = Files.createDirectories(root.resolve("mydata/poems"));
        Files.writeString(d.resolve("train.txt"), "a b\n\n c d\ne f\n  \ng h\n");
        Files.writeString(d.resolve("valid.txt"), "v1\nv2\n");
        Files.writeString(d.resolve("test.txt"), "t1\r\nt2\r\nt3\r\n");
        writeDataPath("mydata");
        LoadedTask t = Tasks.load(TestParams.of("poems"), root);
        assertFalse(t.synthetic());
        assertTrue(t.splits().hasOwnSplits());
        assertEquals(List.of(new Sample("a b"), new Sample(" c d"), new Sample("e f"), new Sample("g h")), t.splits().train());
        assertEquals(List.of(new Sample("t1"), new Sample("t2"), new Sample("t3")), t.splits().test());
        LoadedTask two = Tasks.load(TestParams.of("poems", null, false, 3, -1, 1), root);
        assertEquals(List.of(new Sample("a b\n c d\ne f"), new Sample("g h")), two.splits().train());
        LoadedTask whole = Tasks.load(TestParams.of("poems", null, false, -1, -1, 1), root);
        assertEquals(List.of(1, 1, 1), sizes(whole.splits()));
        assertEquals("t1\nt2\nt3", whole.splits().test().get(0).text());
        LoadedTask crop = Tasks.load(TestParams.of("poems", 2, false, 1, -1, 1), root);
        assertEquals(List.of(2, 2, 2), sizes(crop.splits()));
        Files.delete(d.resolve("test.txt"));
        ConfigError e = assertThrows(ConfigError.class, () -> Tasks.load(TestParams.of("poems"), root));
        assertTrue(e.getMessage().contains("no test.txt"), e.getMessage());
    }

    @Test
    void localDataTxtWithoutSplitsNestedAndAbsolute() throws Exception {
        Path data = root.resolve("somewhere/else");
        Path d = Files.createDirectories(data.resolve("group/sub/lines"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 100; i++) sb.append("line ").append(i).append("\n\n");
        Files.writeString(d.resolve("data.txt"), sb.toString());
        Files.writeString(d.resolve("ignored.txt"), "not read when data.txt exists\n");
        writeDataPath(data.toAbsolutePath().toString());
        LoadedTask t = Tasks.load(TestParams.of("lines"), root);
        assertFalse(t.splits().hasOwnSplits());
        assertEquals(List.of(85, 10, 5), sizes(t.splits()));
        assertEquals("line 84", t.splits().train().get(84).text());
        assertEquals("line 85", t.splits().valid().get(0).text());
        assertEquals("line 99", t.splits().test().get(4).text());
        // lines_per_sample=-1: a whole split per sample
        LoadedTask w = Tasks.load(TestParams.of("lines", null, false, -1, -1, 1), root);
        assertEquals(List.of(1, 1, 1), sizes(w.splits()));
        assertEquals(85, w.splits().train().get(0).text().split("\n").length);
        // lines_per_sample=4: lines are cut first, then grouped within each split
        LoadedTask g = Tasks.load(TestParams.of("lines", null, false, 4, -1, 1), root);
        assertEquals(List.of(22, 3, 2), sizes(g.splits()));
        assertEquals("line 84", g.splits().train().get(21).text());
        // debug_crop before the cut: the lines of the first 20 samples
        LoadedTask c = Tasks.load(TestParams.of("lines", 20, false, 1, -1, 1), root);
        assertEquals(List.of(17, 2, 1), sizes(c.splits()));
    }

    @Test
    void localAnyTxtFilesInNameOrder() throws Exception {
        Path d = Files.createDirectories(root.resolve("data/multi"));
        Files.writeString(d.resolve("b.txt"), "b1\nb2\n");
        Files.writeString(d.resolve("a.txt"), "a1\na2\n");
        Files.writeString(d.resolve("notes.md"), "not text data\n");
        writeDataPath("./data");
        LoadedTask t = Tasks.load(TestParams.withPct(TestParams.of("multi"), 25, 25), root);
        assertEquals(List.of(new Sample("a1"), new Sample("a2")), t.splits().train());
        assertEquals(List.of(new Sample("b1")), t.splits().valid());
        assertEquals(List.of(new Sample("b2")), t.splits().test());
    }

    @Test
    void unknownTaskListsTasksAndFolders() throws Exception {
        ConfigError e = assertThrows(ConfigError.class, () -> Tasks.load(TestParams.of("nope"), root));
        String m = e.getMessage();
        assertFalse(m.contains("\n"));
        for (String k : List.of("'nope'", "ptb", "wikitext-2", "tinyshakespeare", "copy", "sort", "histogram",
                "doublehistogram", "long_addition", "numbersort", "maskedcopy", "data-path.txt not found")) {
            assertTrue(m.contains(k), k + " in: " + m);
        }
        Files.createDirectories(root.resolve("d/alpha"));
        Files.createDirectories(root.resolve("d/beta"));
        writeDataPath("d");
        m = assertThrows(ConfigError.class, () -> Tasks.load(TestParams.of("nope"), root)).getMessage();
        assertTrue(m.contains(root.resolve("d").toString()) && m.contains("alpha, beta"), m);
        writeDataPath("missing");
        m = assertThrows(ConfigError.class, () -> Tasks.load(TestParams.of("nope"), root)).getMessage();
        assertTrue(m.contains("does not exist"), m);
    }

    @Test
    void builtInNamesWinOverLocalFolders() throws Exception {
        Path d = Files.createDirectories(root.resolve("d/copy"));
        Files.writeString(d.resolve("data.txt"), "x\n");
        writeDataPath("d");
        assertTrue(Tasks.load(TestParams.of("copy", 10, false, 1, -1, 10), root).synthetic());
    }
}
