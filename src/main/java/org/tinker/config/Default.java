package org.tinker.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The default of a params field, written beside it as a config file would write the value ({@code 8}, {@code 1e-3},
 * {@code True}, {@code None}, {@code (1, 2)}); a string field's text as it is, without quotes. {@link Params#defaults}
 * builds each section's {@code DEFAULTS} from these.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.RECORD_COMPONENT, ElementType.FIELD, ElementType.PARAMETER, ElementType.METHOD})
public @interface Default {
    String value();
}
