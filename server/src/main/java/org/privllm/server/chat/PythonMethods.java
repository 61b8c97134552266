package org.privllm.server.chat;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Python {@code str} and {@code dict} methods chat templates call, for Jinjava (whose strings are Java
 * strings): {@code strip/lstrip/rstrip([chars])}, {@code startswith/endswith(prefix or tuple)},
 * {@code split/rsplit([sep[, maxsplit]])}, {@code splitlines}, {@code upper/lower/title/capitalize},
 * {@code replace}, {@code find/rfind/count}, {@code join}, {@code isdigit/isalpha/isspace…}; on maps
 * {@code items/keys/values/get}. Anything else falls through to Jinjava's own resolver.
 */
final class PythonMethods extends ELResolver {
    private static final String WHITESPACE = " \t\n\r\u000b\f";

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (method == null) {
            return null;
        }
        Object[] p = params == null ? new Object[0] : params;
        Object r = NONE;
        if (base instanceof CharSequence cs) {
            r = string(cs.toString(), method.toString(), p);
        } else if (base instanceof Map<?, ?> m) {
            r = map(m, method.toString(), p);
        }
        if (r == NONE) {
            return null;
        }
        context.setPropertyResolved(true);
        return r;
    }

    private static final Object NONE = new Object();

    private static Object string(String s, String m, Object[] p) {
        return switch (m) {
            case "strip" -> rstrip(lstrip(s, chars(p)), chars(p));
            case "lstrip" -> lstrip(s, chars(p));
            case "rstrip" -> rstrip(s, chars(p));
            case "startswith" -> affix(s, p, true);
            case "endswith" -> affix(s, p, false);
            case "split" -> split(s, p, false);
            case "rsplit" -> split(s, p, true);
            case "splitlines" -> s.lines().toList();
            case "upper" -> s.toUpperCase(java.util.Locale.ROOT);
            case "lower" -> s.toLowerCase(java.util.Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(java.util.Locale.ROOT)
                    + s.substring(1).toLowerCase(java.util.Locale.ROOT);
            case "replace" -> replace(s, str(p, 0), str(p, 1), p.length > 2 ? num(p[2]) : -1);
            case "find" -> s.indexOf(str(p, 0));
            case "rfind" -> s.lastIndexOf(str(p, 0));
            case "count" -> count(s, str(p, 0));
            case "join" -> join(s, p.length > 0 ? p[0] : List.of());
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(c -> WHITESPACE.indexOf(c) >= 0);
            case "isupper" -> s.chars().anyMatch(Character::isLetter) && s.equals(s.toUpperCase(java.util.Locale.ROOT));
            case "islower" -> s.chars().anyMatch(Character::isLetter) && s.equals(s.toLowerCase(java.util.Locale.ROOT));
            default -> NONE;
        };
    }

    private static Object map(Map<?, ?> m, String name, Object[] p) {
        return switch (name) {
            case "items" -> {
                List<List<Object>> items = new ArrayList<>();
                m.forEach((k, v) -> items.add(java.util.Arrays.asList(k, v)));
                yield items;
            }
            case "keys" -> new ArrayList<>(m.keySet());
            case "values" -> new ArrayList<>(m.values());
            case "get" -> p.length == 0 ? NONE : m.containsKey(p[0]) ? m.get(p[0]) : p.length > 1 ? p[1] : null;
            default -> NONE;
        };
    }

    private static String chars(Object[] p) {
        return p.length == 0 || p[0] == null ? WHITESPACE : p[0].toString();
    }

    private static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && chars.indexOf(s.charAt(i)) >= 0) {
            i++;
        }
        return s.substring(i);
    }

    private static String rstrip(String s, String chars) {
        int e = s.length();
        while (e > 0 && chars.indexOf(s.charAt(e - 1)) >= 0) {
            e--;
        }
        return s.substring(0, e);
    }

    private static boolean affix(String s, Object[] p, boolean prefix) {
        if (p.length == 0) {
            return false;
        }
        Collection<?> options = p[0] instanceof Collection<?> c ? c : List.of(String.valueOf(p[0]));
        for (Object o : options) {
            if (prefix ? s.startsWith(String.valueOf(o)) : s.endsWith(String.valueOf(o))) {
                return true;
            }
        }
        return false;
    }

    private static List<String> split(String s, Object[] p, boolean fromRight) {
        String sep = p.length > 0 && p[0] != null ? p[0].toString() : null;
        int max = p.length > 1 ? num(p[1]) : -1;
        List<String> out = new ArrayList<>();
        if (sep == null) { // runs of whitespace, no empty strings
            for (String part : s.strip().split("\\s+")) {
                if (!part.isEmpty()) {
                    out.add(part);
                }
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        if (!fromRight) {
            int from = 0;
            for (int at = s.indexOf(sep); at >= 0 && (max < 0 || out.size() < max); at = s.indexOf(sep, from)) {
                out.add(s.substring(from, at));
                from = at + sep.length();
            }
            out.add(s.substring(from));
            return out;
        }
        int to = s.length();
        List<String> rev = new ArrayList<>();
        while (max < 0 || rev.size() < max) {
            int at = s.lastIndexOf(sep, to - sep.length());
            if (at < 0) {
                break;
            }
            rev.add(s.substring(at + sep.length(), to));
            to = at;
        }
        rev.add(s.substring(0, to));
        java.util.Collections.reverse(rev);
        return rev;
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevLetter = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            sb.append(prevLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevLetter = Character.isLetter(c);
        }
        return sb.toString();
    }

    private static String replace(String s, String a, String b, int count) {
        if (count < 0) {
            return s.replace(a, b);
        }
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (int n = 0; n < count; n++) {
            int at = s.indexOf(a, from);
            if (at < 0) {
                break;
            }
            sb.append(s, from, at).append(b);
            from = at + a.length();
        }
        return sb.append(s.substring(from)).toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String join(String sep, Object items) {
        StringBuilder sb = new StringBuilder();
        Iterator<?> it = items instanceof Iterable<?> i ? i.iterator() : List.of(items).iterator();
        boolean first = true;
        while (it.hasNext()) {
            if (!first) {
                sb.append(sep);
            }
            sb.append(it.next());
            first = false;
        }
        return sb.toString();
    }

    private static String str(Object[] p, int i) {
        return i < p.length ? String.valueOf(p[i]) : "";
    }

    private static int num(Object o) {
        return o instanceof Number n ? n.intValue() : Integer.parseInt(String.valueOf(o));
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
