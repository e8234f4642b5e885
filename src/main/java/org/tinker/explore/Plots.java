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

    /** One line of a line chart. */
    public record Series(String name, double[] x, double[] y) {}

    /** Writes a line chart (markers on points) as a PNG with title, axis titles and a legend; returns the file. */
    public static Path lineChart(String title, String xAxis, String yAxis, List<Series> series, Path file) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xAxis).yAxisTitle(yAxis).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotGridLinesColor(new Color(225, 225, 225));
        chart.getStyler().setMarkerSize(5);
        chart.getStyler().setDecimalPattern("#,##0.####");
        for (Series s : series) {
            if (s.x().length == 0) continue;
            XYSeries xs = chart.addSeries(s.name(), s.x(), s.y());
            xs.setMarker(SeriesMarkers.CIRCLE);
            xs.setLineStyle(new BasicStroke(1.5f));
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
