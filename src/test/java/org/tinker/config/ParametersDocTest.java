package org.tinker.config;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/parameters.md is generated from the params records; it must not fall behind them. */
class ParametersDocTest {
    @Test
    void theParameterReferenceIsUpToDate() throws Exception {
        String onDisk = Files.readString(Path.of("docs/parameters.md"));
        assertEquals(Params.markdown(), onDisk,
                "docs/parameters.md is stale: regenerate it with ./runner params --markdown > docs/parameters.md");
    }

    @Test
    void everyFieldHasItsDefaultAndDocBesideIt() {
        for (Params.Section s : Params.Section.values())
            for (var c : s.type.getRecordComponents()) {
                assertNotNull(c.getAnnotation(Default.class), s.title + "." + c.getName() + " has no @Default");
                assertNotNull(c.getAnnotation(Doc.class), s.title + "." + c.getName() + " has no @Doc");
            }
    }
}
