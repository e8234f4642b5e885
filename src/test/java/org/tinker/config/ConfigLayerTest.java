package org.tinker.config;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * {@code config} is the bottom of the project's own layers: it names nothing of the other packages, neither in an import
 * nor inline by a fully qualified name (what it needs from above — recipe books, model checks — it finds through
 * {@link java.util.ServiceLoader}).
 */
class ConfigLayerTest {
    @Test
    void configNamesNoOtherPackageOfTheProject() throws Exception {
        Pattern other = Pattern.compile("org\\.tinker\\.(?!config\\b)[a-z]+\\.[A-Za-z]");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of("src/main/java/org/tinker/config"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                List<String> lines = Files.readAllLines(f);
                for (int i = 0; i < lines.size(); i++) {
                    String code = lines.get(i).replaceAll("^\\s*(\\*|//).*", ""); // prose may name the packages it serves
                    Matcher m = other.matcher(code);
                    if (m.find()) found.add(f.getFileName() + ":" + (i + 1) + ": " + lines.get(i).strip());
                }
            }
        }
        assertTrue(found.isEmpty(), "config reaches up into the project:\n" + String.join("\n", found));
    }
}
