package org.privllm.tensor;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What an engine keeps, for memory tests: every object reachable from some roots through the instance fields of
 * this project's classes ({@code org.privllm.*}, lambdas included), arrays, collections and maps. Other JDK
 * objects are leaves, and static fields are not followed: a check that something may be collected at all is a
 * {@link java.lang.ref.WeakReference}'s.
 */
public final class Reachable {
    private Reachable() {}

    /** The objects reachable from {@code roots} (an identity set), not looking inside instances of {@code opaque}. */
    public static Set<Object> from(List<Class<?>> opaque, Object... roots) {
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Object> todo = new ArrayDeque<>();
        for (Object r : roots) {
            push(todo, r);
        }
        while (!todo.isEmpty()) {
            Object o = todo.pop();
            if (!seen.add(o) || opaque.stream().anyMatch(c -> c.isInstance(o))) {
                continue;
            }
            if (o instanceof Object[] a) {
                for (Object e : a) {
                    push(todo, e);
                }
            } else if (o instanceof Collection<?> c) {
                c.forEach(e -> push(todo, e));
            } else if (o instanceof Map<?, ?> m) {
                m.forEach((k, v) -> {
                    push(todo, k);
                    push(todo, v);
                });
            } else {
                for (Class<?> c = o.getClass(); c != null && ours(c); c = c.getSuperclass()) {
                    for (Field f : c.getDeclaredFields()) {
                        if (!Modifier.isStatic(f.getModifiers()) && !f.getType().isPrimitive()) {
                            push(todo, get(f, o));
                        }
                    }
                }
            }
        }
        return seen;
    }

    /** The {@code float[]}s among {@code objects}, most values first. */
    public static List<float[]> floatArrays(Set<Object> objects) {
        return objects.stream().filter(o -> o instanceof float[]).map(o -> (float[]) o)
                .sorted((a, b) -> Integer.compare(b.length, a.length)).toList();
    }

    private static boolean ours(Class<?> c) {
        return c.getName().startsWith("org.privllm.");
    }

    private static void push(ArrayDeque<Object> todo, Object o) {
        if (o != null) {
            todo.push(o);
        }
    }

    private static Object get(Field f, Object o) {
        try {
            f.setAccessible(true);
            return f.get(o);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new AssertionError("cannot read " + f + " (" + e + ")", e);
        }
    }
}
