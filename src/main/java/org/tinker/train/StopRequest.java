package org.tinker.train;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A request to stop training at the next optimizer-step boundary with a checkpoint of that step (issue 19, item 7):
 * SIGTERM and Ctrl-C run a shutdown hook that calls {@link #request}, then waits, bounded, for the training thread to
 * write the checkpoint and {@link #finish}; the JVM then exits 143 (SIGTERM) or 130 (SIGINT). The checkpoint is written
 * by the training thread between steps, never by the hook, so it is consistent and resumable.
 */
public final class StopRequest {
    /** How long a signal waits for the checkpoint before the process ends anyway (-Dtinker.stop-wait-seconds). */
    public static final long WAIT_SECONDS = Long.getLong("tinker.stop-wait-seconds", 300);

    private volatile boolean requested;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile String line;

    /** Asks the trainer to stop at its next step boundary. */
    public void request() {
        requested = true;
    }

    public boolean requested() {
        return requested;
    }

    /** Training is over (stopped, finished or failed); {@code line} is what to tell the user, null for nothing. */
    public void finish(String line) {
        this.line = line;
        done.countDown();
    }

    /** Waits up to {@code seconds} for {@link #finish}; returns its line, or null when the wait ran out. */
    public String await(long seconds) {
        try {
            return done.await(seconds, TimeUnit.SECONDS) ? line : null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    public boolean finished() {
        return done.getCount() == 0;
    }
}
