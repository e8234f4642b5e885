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

    /**
     * The first line of a parser's message (Gson's end with a second "See https://..." line), without the exception
     * class some of them start with: the part of a one-line error that says what was wrong and where.
     */
    public static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        m = m.lines().findFirst().orElse("").strip();
        return m.replaceFirst("^([a-z]+\\.)+[A-Za-z]+(Exception|Error): ", "");
    }
}
