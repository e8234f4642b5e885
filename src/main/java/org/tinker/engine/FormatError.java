package org.tinker.engine;

/**
 * A file that is not what its format promises (a truncated safetensors header, a pickle opcode out of place, a
 * tensor larger than its config allows). Like a config mistake it is the user's to fix, so the command line prints
 * its message as one line and exits with status 2; the message names the file and what was expected.
 */
public class FormatError extends RuntimeException {
    public FormatError(String message) {
        super(message, null, false, false);
    }

    public FormatError(String message, Throwable cause) {
        super(message, cause, false, false);
    }
}
