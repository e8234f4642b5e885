package org.tinker.model;

/**
 * Knobs of one forward pass.
 *
 * @param getAttns       also return every layer's attention pattern ({@link LMOutput#attns()})
 * @param getEmbeddings  also return the residual stream before every block and after the last
 * @param hooks          interventions at named hook points ({@link Hooks}); null means none. They run after the
 *                       model's own recipes ({@code mp.recipes}) at the same points
 * @param attnRequests   opaque, handed unchanged to every hook via {@link HookContext#attnRequests()} (the
 *                       reference's {@code attn_requests}); hooks decide what it means
 */
public record ForwardOptions(boolean getAttns, boolean getEmbeddings, Hooks hooks, Object attnRequests) {
    public static final ForwardOptions DEFAULT = new ForwardOptions(false, false, null, null);

    public static ForwardOptions withHooks(Hooks hooks) {
        return new ForwardOptions(false, false, hooks, null);
    }

    public ForwardOptions withAttns(boolean on) {
        return new ForwardOptions(on, getEmbeddings, hooks, attnRequests);
    }

    public ForwardOptions withEmbeddings(boolean on) {
        return new ForwardOptions(getAttns, on, hooks, attnRequests);
    }

    public ForwardOptions withAttnRequests(Object requests) {
        return new ForwardOptions(getAttns, getEmbeddings, hooks, requests);
    }
}
