package org.tinker.explore;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG output: heatmaps drawn with Java2D (token labels on both axes, a value written in any cell, a colour scale
 * with ticks) and line charts with XChart. Headless: no window is ever opened.
 */
public final class Plots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** Cell size, margins (pixels) of {@link #heatmap}; the image is {@code left + cols·cell + right} wide. */
    public static final int MIN_CELL = 28, TITLE_H = 44, BAR_W = 90, PAD = 12;

    private Plots() {}

    /**
     * @param values     [rows][cols]; NaN cells are drawn grey (e.g. above the causal diagonal)
     * @param cellText   text written in each cell, or null
     * @param min, max   colour range (values outside are clipped)
     */
    public record Heatmap(String title, List<String> xLabels, List<String> yLabels, double[][] values, String[][] cellText,
                          String xAxis, String yAxis, String scaleLabel, double min, double max) {}

    /** Cell edge for a heatmap: room for the cell text. */
    static int cellSize(Heatmap h, FontMetrics cellFont) {
        int c = MIN_CELL;
        if (h.cellText() != null)
            for (String[] row : h.cellText()) for (String s : row) if (s != null) c = Math.max(c, cellFont.stringWidth(s) + 8);
        return Math.min(c, 110);
    }

    /** Writes the heatmap as a PNG (folders created); returns the file. */
    public static Path heatmap(Heatmap h, Path file) {
        int rows = h.values().length, cols = rows == 0 ? 0 : h.values()[0].length;
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D pg = probe.createGraphics();
        Font labelFont = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
        Font cellFont = new Font(Font.SANS_SERIF, Font.PLAIN, 10);
        Font titleFont = new Font(Font.SANS_SERIF, Font.BOLD, 15);
        FontMetrics lf = pg.getFontMetrics(labelFont);
        int cell = cellSize(h, pg.getFontMetrics(cellFont));
        int yLab = 0, xLab = 0;
        for (String s : h.yLabels()) yLab = Math.max(yLab, lf.stringWidth(s));
        for (String s : h.xLabels()) xLab = Math.max(xLab, lf.stringWidth(s));
        int titleW = pg.getFontMetrics(titleFont).stringWidth(h.title());
        pg.dispose();
        int left = PAD + lf.getHeight() + 8 + yLab + 8;
        int top = TITLE_H;
        int bottom = 8 + xLab + 8 + lf.getHeight() + PAD;
        int width = Math.max(left + cols * cell + BAR_W + PAD, titleW + 2 * PAD);
        int height = top + Math.max(rows * cell, 160) + bottom;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(titleFont);
        g.drawString(h.title(), Math.max(PAD, (width - g.getFontMetrics().stringWidth(h.title())) / 2), 28);

        // cells
        g.setFont(cellFont);
        FontMetrics cf = g.getFontMetrics();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = h.values()[r][c];
                Color col = Double.isNaN(v) ? new Color(235, 235, 235) : viridis(norm(v, h.min(), h.max()));
                g.setColor(col);
                g.fillRect(left + c * cell, top + r * cell, cell, cell);
                String s = h.cellText() == null ? null : h.cellText()[r][c];
                if (s != null && !s.isEmpty()) {
                    g.setColor(luminance(col) > 0.5 ? Color.BLACK : Color.WHITE);
                    String t = fit(s, cf, cell - 4);
                    g.drawString(t, left + c * cell + (cell - cf.stringWidth(t)) / 2, top + r * cell + (cell + cf.getAscent()) / 2 - 2);
                }
            }
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(left, top, cols * cell, rows * cell);

        // tick labels: y to the left of each row, x rotated under each column
        g.setFont(labelFont);
        g.setColor(Color.BLACK);
        for (int r = 0; r < rows; r++) {
            String s = h.yLabels().get(r);
            g.drawString(s, left - 8 - lf.stringWidth(s), top + r * cell + (cell + lf.getAscent()) / 2 - 2);
        }
        AffineTransform saved = g.getTransform();
        for (int c = 0; c < cols; c++) {
            String s = h.xLabels().get(c);
            int x = left + c * cell + (cell + lf.getAscent()) / 2 - 2;
            int y = top + rows * cell + 8;
            g.setTransform(saved);
            g.translate(x, y);
            g.rotate(Math.PI / 2);
            g.drawString(s, 0, 0);
        }
        g.setTransform(saved);
        // axis titles
        g.drawString(h.xAxis(), left + (cols * cell - lf.stringWidth(h.xAxis())) / 2, height - PAD);
        g.translate(PAD + lf.getAscent(), top + (rows * cell + lf.stringWidth(h.yAxis())) / 2);
        g.rotate(-Math.PI / 2);
        g.drawString(h.yAxis(), 0, 0);
        g.setTransform(saved);

        // colour scale
        int bx = left + cols * cell + 24, barH = Math.max(rows * cell, 160), bw = 16;
        for (int i = 0; i < barH; i++) {
            g.setColor(viridis(1 - (double) i / (barH - 1)));
            g.fillRect(bx, top + i, bw, 1);
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(bx, top, bw, barH);
        g.setFont(cellFont);
        for (int i = 0; i <= 4; i++) {
            double v = h.max() - (h.max() - h.min()) * i / 4;
            int y = top + (int) Math.round((barH - 1) * i / 4.0);
            g.drawLine(bx + bw, y, bx + bw + 3, y);
            g.drawString(num(v), bx + bw + 5, y + cf.getAscent() / 2 - 1);
        }
        g.translate(bx - 6, top + (barH + cf.stringWidth(h.scaleLabel())) / 2);
        g.rotate(-Math.PI / 2);
        g.drawString(h.scaleLabel(), 0, 0);
        g.setTransform(saved);
        g.dispose();
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            ImageIO.write(img, "png", file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return file;
    }

    static String num(double v) {
        if (v == 0) return "0";
        double a = Math.abs(v);
        if (a >= 1e4 || a < 1e-2) return String.format(Locale.ROOT, "%.1e", v);
        if (a >= 100) return String.format(Locale.ROOT, "%.0f", v);
        return String.format(Locale.ROOT, "%.2f", v);
    }

    /** Sets the chart's title font small enough for the title to fit its width, cutting it only below 11 points. */
    static void fitTitle(XYChart chart, String title) {
        Font f = chart.getStyler().getChartTitleFont();
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = probe.createGraphics();
        int room = chart.getWidth() - 24;
        while (f.getSize2D() > 11 && g.getFontMetrics(f).stringWidth(title) > room) f = f.deriveFont(f.getSize2D() - 1);
        String t = fit(title, g.getFontMetrics(f), room);
        g.dispose();
        chart.getStyler().setChartTitleFont(f);
        chart.setTitle(t);
    }

    private static String fit(String s, FontMetrics fm, int w) {
        if (fm.stringWidth(s) <= w) return s;
        while (s.length() > 1 && fm.stringWidth(s + "…") > w) s = s.substring(0, s.length() - 1);
        return s + "…";
    }

    private static double norm(double v, double min, double max) {
        if (!(max > min)) return 0.5;
        return Math.max(0, Math.min(1, (v - min) / (max - min)));
    }

    private static double luminance(Color c) {
        return (0.299 * c.getRed() + 0.587 * c.getGreen() + 0.114 * c.getBlue()) / 255;
    }

    /** A viridis-like colour map (dark purple → blue → green → yellow), interpolated between 5 anchors. */
    static Color viridis(double t) {
        double[][] a = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
        double x = Math.max(0, Math.min(1, t)) * (a.length - 1);
        int i = Math.min((int) x, a.length - 2);
        double f = x - i;
        return new Color((int) Math.round(a[i][0] + f * (a[i + 1][0] - a[i][0])),
                (int) Math.round(a[i][1] + f * (a[i + 1][1] - a[i][1])), (int) Math.round(a[i][2] + f * (a[i + 1][2] - a[i][2])));
    }

    /**
     * One line of a line chart; with {@code lo}/{@code hi} (same length as x, or null) a band around it, drawn as two thin
     * dashed lines of the line's colour: the spread over seeds.
     */
    public record Series(String name, double[] x, double[] y, double[] lo, double[] hi) {
        public Series(String name, double[] x, double[] y) {
            this(name, x, y, null, null);
        }
    }

    /** Line colours, in order (the ten of matplotlib's tab10, which readers know from the reference's plots). */
    public static final List<Color> PALETTE = List.of(new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44),
            new Color(214, 39, 40), new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127),
            new Color(188, 189, 34), new Color(23, 190, 207));

    /** Width and height of {@link #lineChart}'s picture. */
    public static final int CHART_W = 900, CHART_H = 560;

    /**
     * Tick values for an axis over [lo, hi]: about {@code target} of them at a step of 1, 2 or 5 × 10^k, the first at or
     * below lo, the last at or above hi.
     */
    public static double[] niceTicks(double lo, double hi, int target) {
        if (!(hi > lo)) {
            double pad = lo == 0 ? 1 : Math.abs(lo) * 0.01;
            lo -= pad;
            hi += pad;
        }
        double step = niceStep((hi - lo) / Math.max(1, target));
        double first = Math.floor(lo / step) * step, last = Math.ceil(hi / step) * step;
        int n = (int) Math.round((last - first) / step) + 1;
        double[] t = new double[n];
        for (int i = 0; i < n; i++) t[i] = first + i * step;
        return t;
    }

    /** The 1, 2 or 5 × 10^k at or above {@code raw}. */
    static double niceStep(double raw) {
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    }

    /** Decimals that write every multiple of {@code step} exactly (0.0005 → 4, 2.5e-5 → 6, 20 → 0). */
    public static int decimalsFor(double step) {
        for (int d = 0; d < 12; d++) {
            double scaled = step * Math.pow(10, d);
            if (Math.abs(scaled - Math.rint(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
        }
        return 12;
    }

    /**
     * The decimals of a y axis over [lo, hi] whose ticks a chart library chooses: enough for the finest step it could
     * take (a 1, 2, 2.5 or 5 × 10^k step, up to 20 ticks), so that neighbouring ticks never print the same or unevenly
     * rounded numbers (1.00005 and 1.0001 as 1.0001 and 1.0001, or 1.0001 / 1.0002 / 1.0004 at even spacing).
     */
    static int axisDecimals(double lo, double hi) {
        if (!(hi > lo) || !Double.isFinite(hi - lo)) return 4;
        double raw = (hi - lo) / 20, p = Math.pow(10, Math.floor(Math.log10(raw)));
        int d = 0;
        for (double m : new double[] {1, 2, 2.5, 5, 10}) if (m * p >= raw) d = Math.max(d, decimalsFor(m * p));
        return d;
    }

    /**
     * Writes a line chart (markers on points) as a PNG with title, axis titles and a legend; returns the file. A title too
     * wide for the picture is set smaller, and cut with … only below 11 points.
     */
    public static Path lineChart(String title, String xAxis, String yAxis, List<Series> series, Path file) {
        XYChart chart = new XYChartBuilder().width(CHART_W).height(CHART_H).title(title).xAxisTitle(xAxis).yAxisTitle(yAxis).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotGridLinesColor(new Color(225, 225, 225));
        chart.getStyler().setMarkerSize(5);
        fitTitle(chart, title);
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (Series s : series)
            for (double[] ys : new double[][] {s.y(), s.lo(), s.hi()})
                if (ys != null) for (double v : ys) if (Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
        chart.getStyler().setYAxisDecimalPattern("#,##0." + "#".repeat(Math.max(1, axisDecimals(lo, hi))));
        int i = 0;
        for (Series s : series) {
            if (s.x().length == 0) continue;
            Color c = PALETTE.get(i++ % PALETTE.size());
            XYSeries xs = chart.addSeries(s.name(), s.x(), s.y());
            xs.setMarker(SeriesMarkers.CIRCLE);
            xs.setLineStyle(new BasicStroke(1.5f));
            xs.setLineColor(c);
            xs.setMarkerColor(c);
            if (s.lo() != null && s.hi() != null) {
                Color faint = new Color(c.getRed(), c.getGreen(), c.getBlue(), 150);
                for (double[] edge : new double[][] {s.lo(), s.hi()}) {
                    XYSeries e = chart.addSeries(s.name() + (edge == s.lo() ? " (low)" : " (high)"), s.x(), edge);
                    e.setMarker(SeriesMarkers.NONE);
                    e.setLineStyle(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {5f, 4f}, 0f));
                    e.setLineColor(faint);
                    e.setShowInLegend(false);
                }
            }
        }
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            String name = file.getFileName().toString();
            Path target = dir.resolve(name.endsWith(".png") ? name : name + ".png");
            // Written beside the target, then renamed over it: a rename replaces a symbolic link at the target instead of
            // writing through it, and a reader never sees half a picture.
            String tmp = "." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
            BitmapEncoder.saveBitmap(chart, dir.resolve(tmp).toString(), BitmapEncoder.BitmapFormat.PNG); // appends .png
            Path written = dir.resolve(tmp + ".png");
            try {
                Files.move(written, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(written);
            }
            return file.getParent() == null ? target.getFileName() : file.getParent().resolve(target.getFileName());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
