package org.tinker.explore;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Charts are written beside their target and renamed over it: never through a symbolic link, never half written. */
class PlotsTest {
    @Test
    void aSymlinkAtTheTargetIsReplacedNotWrittenThrough(@TempDir Path dir) throws Exception {
        Path elsewhere = Files.writeString(dir.resolve("elsewhere.txt"), "keep me");
        Path runs = Files.createDirectories(dir.resolve("run"));
        Path target = runs.resolve("metrics-loss.png");
        Files.createSymbolicLink(target, elsewhere);
        Path written = Plots.lineChart("loss", "n_train_samples", "loss",
                List.of(new Plots.Series("stat/train_loss:main", new double[] {1, 2, 3}, new double[] {3, 2, 1})), target);
        assertEquals(target, written);
        assertEquals("keep me", Files.readString(elsewhere), "the link's target is untouched");
        assertFalse(Files.isSymbolicLink(target));
        assertNotNull(ImageIO.read(target.toFile()), "a PNG in its place");
        try (var files = Files.list(runs)) {
            assertEquals(List.of(target), files.toList(), "no temporary file left");
        }
    }

    /** The max_param_val case: values 1.0001 … 1.0004 once had ticks labelled 1.0001 / 1.0002 / 1.0004 at even spacing. */
    @Test
    void yTicksOfANarrowRangeAreWrittenExactly() {
        int d = Plots.axisDecimals(1.0001, 1.0004);
        java.text.DecimalFormat f = new java.text.DecimalFormat("#,##0." + "#".repeat(d), java.text.DecimalFormatSymbols.getInstance(java.util.Locale.ROOT));
        // whatever 1, 2, 2.5 or 5 × 10^k step a chart takes for this range, its ticks print as themselves, all different
        for (double step : new double[] {1e-5, 2e-5, 2.5e-5, 5e-5, 1e-4}) {
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (double v = Math.floor(1.0001 / step) * step; v <= 1.0004 + step; v += step) {
                String s = f.format(v);
                assertTrue(seen.add(s), "two ticks print as " + s + " at step " + step);
                assertEquals(v, Double.parseDouble(s.replace(",", "")), step / 100, "tick " + v + " printed as " + s);
            }
        }
        assertTrue(Plots.axisDecimals(2, 9) <= 2, "a wide range keeps short labels");
    }

    @Test
    void niceTicksCoverTheRangeAtARoundStep() {
        double[] t = Plots.niceTicks(4.183, 4.228, 5);
        assertTrue(t[0] <= 4.183 && t[t.length - 1] >= 4.228);
        double step = t[1] - t[0];
        assertEquals(0.01, step, 1e-12);
        assertEquals(2, Plots.decimalsFor(step));
        for (int i = 1; i < t.length; i++) assertEquals(step, t[i] - t[i - 1], 1e-9);
        assertEquals(0, Plots.decimalsFor(Plots.niceTicks(0, 170, 5)[1]));
    }

    @Test
    void aLongTitleIsSetSmallerToFitTheChart(@TempDir Path dir) throws Exception {
        String title = "stat/train_batch_loss:main, stat/val_loss:main, stat/train_batch_acc:main, stat/val_acc:main — 2026-12-03--09-10-57-2";
        org.knowm.xchart.XYChart chart = new org.knowm.xchart.XYChartBuilder().width(Plots.CHART_W).height(Plots.CHART_H).title(title).build();
        java.awt.Font before = chart.getStyler().getChartTitleFont();
        Plots.fitTitle(chart, title);
        java.awt.Font after = chart.getStyler().getChartTitleFont();
        java.awt.Graphics2D g = new java.awt.image.BufferedImage(1, 1, java.awt.image.BufferedImage.TYPE_INT_RGB).createGraphics();
        assertTrue(g.getFontMetrics(before).stringWidth(title) > Plots.CHART_W - 24, "the title did not fit before");
        assertTrue(g.getFontMetrics(after).stringWidth(chart.getTitle()) <= Plots.CHART_W - 24, "it fits now");
        assertEquals(title, chart.getTitle(), "set smaller, not cut");
        Path png = Plots.lineChart(title, "n_train_samples", "value", List.of(new Plots.Series("a", new double[] {1, 2}, new double[] {1.0001, 1.0004},
                new double[] {1.0001, 1.0002}, new double[] {1.0002, 1.0005})), dir.resolve("four.png"));
        assertNotNull(ImageIO.read(png.toFile()));
    }
}
