package org.tinker.config;

/**
 * A setting with a fixed set of values (an enum of a params record): its {@link #spelling} is what config files,
 * {@code --set}, saved params JSON and W&B use, and what {@code toString} returns.
 */
public interface Choice {
    String spelling();

    /** The constant of {@code type} spelled {@code text}, or null. */
    static <E extends Enum<E> & Choice> E parse(Class<E> type, String text) {
        for (E e : type.getEnumConstants()) if (e.spelling().equals(text)) return e;
        return null;
    }

    /** Every spelling of an enum of choices, in declaration order. */
    static java.util.List<String> spellings(Class<?> type) {
        return java.util.Arrays.stream(type.getEnumConstants()).map(e -> ((Choice) e).spelling()).toList();
    }
}
