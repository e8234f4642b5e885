package org.tinker.train;

import java.io.PrintStream;

/**
 * One line that redraws itself on a terminal ({@code [=====>   ] 120/2000 loss 2.31 lr 1.0e-03 4,210 tok/s ETA 3m12s}),
 * or a plain line every 5% of the run when output goes to a file or CI log.
 */
public final class ProgressBar {
    private final PrintStream out;
    private final long total;
    private final boolean terminal = System.console() != null;
    private final long start = System.nanoTime();
    private long lastPrinted = -1;
    private String lastLine = "";

    public ProgressBar(PrintStream out, long totalSteps) {
        this.out = out;
        this.total = Math.max(1, totalSteps);
    }

    public void update(long step, double loss, double lr, double tokensPerSecond) {
        double secs = (System.nanoTime() - start) / 1e9;
        double eta = step == 0 ? 0 : secs * (total - step) / step;
        int width = 30, filled = (int) Math.min(width, width * step / total);
        String bar = "[" + "=".repeat(filled) + (filled < width ? ">" + " ".repeat(width - filled - 1) : "") + "]";
        lastLine = String.format("%s %d/%d loss %.4f lr %.2e %,.0f tok/s ETA %s", bar, step, total, loss, lr, tokensPerSecond, time(eta));
        if (terminal) {
            out.print("\r" + lastLine);
            out.flush();
        } else if (step / Math.max(1, total / 20) != lastPrinted) {
            lastPrinted = step / Math.max(1, total / 20);
            out.println(lastLine);
        }
    }

    /** Prints a message above the bar. */
    public void message(String line) {
        if (terminal) out.print("\r\033[K" + line + "\n" + lastLine);
        else out.println(line);
        out.flush();
    }

    public void finish() {
        if (terminal) out.println();
    }

    static String time(double s) {
        long t = Math.round(s);
        return t >= 3600 ? String.format("%dh%02dm", t / 3600, t / 60 % 60) : t >= 60 ? String.format("%dm%02ds", t / 60, t % 60) : t + "s";
    }
}
