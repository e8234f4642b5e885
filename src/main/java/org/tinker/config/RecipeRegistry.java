package org.tinker.config;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A {@link RecipeBook} of named recipes of one kind {@code T} (model hooks, training callbacks): the shipped ones in a
 * list, a researcher's own found by name ({@link RecipeCall#construct}). The model's and the trainer's books are one
 * line each on top of this.
 */
public abstract class RecipeRegistry<T> implements RecipeBook {

    /** A named recipe: its argument names (for messages), a call that shows it off, and how to build it from a call. */
    public record Entry<T>(String name, List<String> args, String example, Function<RecipeCall, T> make) {
        public String signature() {
            return args.isEmpty() ? name : name + "(" + String.join(", ", args) + ")";
        }
    }

    private final String field;
    private final String kind;
    private final Class<T> type;
    private final List<Entry<T>> entries;

    /**
     * @param field   the params field that names these recipes ({@code recipes} or {@code callbacks})
     * @param kind    what one is called in messages ("recipe", "callback")
     * @param type    what a researcher's own class must implement
     * @param entries the shipped recipes
     */
    protected RecipeRegistry(String field, String kind, Class<T> type, List<Entry<T>> entries) {
        this.field = field;
        this.kind = kind;
        this.type = type;
        this.entries = List.copyOf(entries);
    }

    /** The recipes a field's text names, in order; IllegalArgumentException naming the known ones otherwise. */
    public List<T> build(String text) {
        List<T> out = new ArrayList<>();
        for (RecipeCall call : RecipeCall.parseAll(text)) out.add(build(call));
        return out;
    }

    public T build(RecipeCall call) {
        for (Entry<T> e : entries) {
            if (!e.name().equals(call.name())) continue;
            if (call.args().size() != e.args().size())
                throw new IllegalArgumentException(e.signature() + " takes " + e.args().size() + " argument(s), got " + call);
            return e.make().apply(call);
        }
        T own = call.construct(type);
        if (own == null)
            throw new IllegalArgumentException("unknown " + kind + " '" + call.name() + "': known are " + String.join(", ", known())
                    + ", or a class " + call.userClassName() + " implementing " + type.getName());
        return own;
    }

    @Override
    public String field() {
        return field;
    }

    @Override
    public List<String> known() {
        return entries.stream().map(Entry::signature).toList();
    }

    @Override
    public String problem(RecipeCall call, Record params) {
        try {
            check(build(call), params);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    /** Checks a built recipe against the params of a run (IllegalArgumentException saying what is wrong); none by default. */
    protected void check(T recipe, Record params) {}
}
