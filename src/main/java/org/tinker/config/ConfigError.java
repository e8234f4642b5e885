package org.tinker.config;

/**
 * A mistake the user can make (a bad config file, flag, path or value). It carries one line that names
 * where (file:line: key, or the path) and what was expected. The CLI prints it and exits with code 2,
 * without a stack trace. Anything else that is thrown is a bug.
 */
public class ConfigError extends RuntimeException {
    public ConfigError(String message) {
        super(message, null, false, false);
    }

    public ConfigError(String message, Throwable cause) {
        super(message, cause, false, false);
    }
}
