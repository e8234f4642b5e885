package org.tinker.tint;

/**
 * The TinT sequence's fixed data: K prefix rows then T token rows, their one-hot positions, the train length, and the
 * ICL mask of the softmax attentions.
 */
final class Seq {
    final int K, T, nTrain, Taux;
    final Mat pos; // [K+T, Taux+K]: token t → e_t, prefix j → e_{Taux+j}
    final IclInput icl;

    Seq(int K, int T, int nTrain, int Taux, IclInput icl, boolean f32) {
        this.K = K; this.T = T; this.nTrain = nTrain; this.Taux = Taux; this.icl = icl;
        pos = new Mat(K + T, Taux + K, f32);
        for (int j = 0; j < K; j++) pos.set(j, Taux + j, 1);
        for (int t = 0; t < T; t++) pos.set(K + t, t, 1);
    }
}
