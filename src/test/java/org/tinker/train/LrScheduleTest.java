package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    static LrSchedule of(String type) {
        return new LrSchedule(TestRuns.spec("[TrainParams]\nlr=1e-3\nmin_lr=1e-4\nlr_warm_steps=10\nlr_cycle_steps=100\n"
                + "lr_scheduler_type=\"" + type + "\"\npatience=2\nscheduler_factor=0.5\n").tp());
    }

    @Test
    void warmUpIsLinearThenCosineDecaysToTheFloorAndStays() {
        LrSchedule s = of("Cosine");
        assertEquals(1e-4, s.lrAt(0), 1e-12);
        assertEquals(1e-3, s.lrAt(9), 1e-12);
        assertEquals(1e-3, s.lrAt(10), 1e-12);
        assertEquals(0.55e-3, s.lrAt(60), 1e-12);
        assertEquals(1e-4, s.lrAt(110), 1e-12);
        assertEquals(1e-4, s.lrAt(500), 1e-12);
    }

    @Test
    void cyclicLinearAndConstant() {
        LrSchedule c = of("Cyclic");
        assertEquals(1e-4, c.lrAt(10), 1e-12);
        assertEquals(1e-3, c.lrAt(60), 1e-12);
        assertEquals(1e-4, c.lrAt(110), 1e-12);
        assertEquals(0.55e-3, of("Linear").lrAt(60), 1e-12);
        assertEquals(1e-3, of("Constant").lrAt(1000), 1e-12);
    }

    @Test
    void plateauHalvesAfterPatienceStepsWithoutImprovement() {
        LrSchedule p = of("Plateau");
        p.observe(5, 20);
        for (int i = 0; i < 3; i++) p.observe(6, 21 + i);
        assertEquals(5e-4, p.lrAt(30), 1e-12);
        LrSchedule q = of("Plateau");
        q.restore(p.state());
        assertEquals(5e-4, q.lrAt(30), 1e-12);
    }
}
