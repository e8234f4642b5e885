package org.tinker.model;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Model tests share one base NDManager per test class: opened before its tests, closed (with all it holds) after. */
public abstract class WithBaseManager {
    protected static NDManager base;

    @BeforeAll
    protected static void openBase() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    protected static void closeBase() {
        base.close();
    }
}
