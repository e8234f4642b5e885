package org.tinker.runs;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class TrainStatsTest {
    @Test
    void readsAllThreeTupleLayoutsOfTheReference() {
        TrainStats seed = TrainStats.fromJson("{\"stat/val_loss:main\": [[10, 80, 5, 2.5], [20, 160, 9, 2.25]]}");
        assertEquals(new TrainStats.Point(20, 160, 9, 2.25), seed.get("stat/val_loss:main").get(1));
        TrainStats initial = TrainStats.fromJson("{\"stat/val_loss:main\": [[80, 2.5, 5]]}");
        assertEquals(new TrainStats.Point(-1, 80, 5, 2.5), initial.get("stat/val_loss:main").get(0));
        TrainStats head = TrainStats.fromJson("{\"stat/val_loss:main\": [[10, 2.5]], \"total_train_samples\": 100}");
        assertEquals(new TrainStats.Point(10, -1, -1, 2.5), head.get("stat/val_loss:main").get(0));
    }

    @Test
    void writesSeedEraTuplesAndReadsThemBack() {
        TrainStats s = new TrainStats();
        s.onStat("a", 1.5, new StatsListener.Counters(3, 24, 0));
        s.onStat("a", Double.NaN, new StatsListener.Counters(4, 32, 1));
        TrainStats back = TrainStats.fromJson(s.toJson().toString());
        assertEquals(s.get("a").get(0), back.get("a").get(0));
        assertTrue(Double.isNaN(back.last("a")));
    }
}
