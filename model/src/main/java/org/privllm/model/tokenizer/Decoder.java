package org.privllm.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenizer.json {@code decoder}: token strings back to text, as HuggingFace's {@code decode_chain}.
 *
 * <p>Each decoder runs as a stateful {@link Stage} fed one token at a time, and a whole decode is the
 * same stages fed every token and then {@link Stage#end()}ed. So streaming and full decoding are one
 * computation and their texts cannot differ; a stage holds back only what a later token could still
 * change (an incomplete UTF-8 sequence, a run of byte-fallback tokens, characters a strip may remove).
 *
 * <p>HuggingFace passes a list of strings from decoder to decoder. After {@code Fuse} or
 * {@code ByteLevel} that list is one string; a stage downstream of them is opened {@code fused} and
 * receives consecutive chunks of that one string instead of separate tokens.
 */
sealed interface Decoder {
    /** Receives strings: separate tokens, or chunks of one string when opened fused. */
    interface Stage {
        void push(String s);

        /** No more input: release what is held and end the next stage. */
        void end();
    }

    /** A fresh stage that feeds {@code next}; {@code fused} says whether its input is chunks of one string. */
    Stage open(Stage next, boolean fused);

    /** Whether the output is one string (chunks of it), given whether the input is. */
    default boolean fuses(boolean fused) {
        return fused;
    }

    /** Runs {@code tokens} through a fresh chain into one string. */
    static String decodeAll(Decoder decoder, List<String> tokens) {
        StringBuilder out = new StringBuilder();
        Stage stage = decoder.open(collector(out), false);
        for (String t : tokens) stage.push(t);
        stage.end();
        return out.toString();
    }

    /** A stage that appends everything to {@code out}. */
    static Stage collector(StringBuilder out) {
        return new Stage() {
            @Override
            public void push(String s) {
                out.append(s);
            }

            @Override
            public void end() {}
        };
    }

    /** A per-token stage; also serves a fused input by treating the whole string, collected to the end, as one token. */
    private static Stage perToken(Stage next, boolean fused, UnaryOperator<String> f) {
        Stage stage = new Stage() {
            @Override
            public void push(String s) {
                next.push(f.apply(s));
            }

            @Override
            public void end() {
                next.end();
            }
        };
        return fused ? new WholeString(stage) : stage;
    }

    /** {@code Sequence}: the decoders one after the other. */
    record Sequence(List<Decoder> decoders) implements Decoder {
        @Override
        public Stage open(Stage next, boolean fused) {
            boolean[] fusedIn = new boolean[decoders.size()];
            boolean f = fused;
            for (int i = 0; i < decoders.size(); i++) {
                fusedIn[i] = f;
                f = decoders.get(i).fuses(f);
            }
            Stage stage = next;
            for (int i = decoders.size() - 1; i >= 0; i--) stage = decoders.get(i).open(stage, fusedIn[i]);
            return stage;
        }

        @Override
        public boolean fuses(boolean fused) {
            for (Decoder d : decoders) fused = d.fuses(fused);
            return fused;
        }
    }

    /**
     * {@code ByteLevel}: each character of a token stands for one byte (GPT-2's byte↔unicode map; a token
     * with any other character stands for its own UTF-8 bytes); the bytes are decoded as UTF-8 with
     * U+FFFD for invalid sequences. An incomplete trailing sequence is held back until it completes.
     */
    record ByteLevel() implements Decoder {
        @Override
        public boolean fuses(boolean fused) {
            return true;
        }

        @Override
        public Stage open(Stage next, boolean fused) {
            Stage bytes = new Stage() {
                private byte[] pending = new byte[16];
                private int length;

                @Override
                public void push(String token) {
                    byte[] b = ByteUnicode.decode(token);
                    if (b == null) b = token.getBytes(StandardCharsets.UTF_8);
                    if (length + b.length > pending.length) {
                        pending = Arrays.copyOf(pending, Math.max(pending.length * 2, length + b.length));
                    }
                    System.arraycopy(b, 0, pending, length, b.length);
                    length += b.length;
                    drain(false);
                }

                @Override
                public void end() {
                    drain(true);
                    next.end();
                }

                private void drain(boolean endOfInput) {
                    StringBuilder sb = new StringBuilder(length);
                    int used = Utf8.decode(pending, 0, length, endOfInput, sb);
                    System.arraycopy(pending, used, pending, 0, length - used);
                    length -= used;
                    if (!sb.isEmpty()) next.push(sb.toString());
                }
            };
            return fused ? new WholeString(bytes) : bytes;
        }
    }

    /** {@code Replace}: every match of a literal or regex pattern in a token becomes {@code content}. */
    record Replace(Pattern pattern, String literal, String content) implements Decoder {
        /** From tokenizer.json's {@code {"String": …}} pattern. */
        static Replace literal(String literal, String content) {
            return new Replace(null, literal, content);
        }

        /** From tokenizer.json's {@code {"Regex": …}} pattern. */
        static Replace regex(Pattern pattern, String content) {
            return new Replace(pattern, null, content);
        }

        String apply(String s) {
            if (pattern != null) return pattern.matcher(s).replaceAll(Matcher.quoteReplacement(content));
            return literal.isEmpty() ? s : s.replace(literal, content);
        }

        @Override
        public Stage open(Stage next, boolean fused) {
            if (!fused || pattern != null || literal.isEmpty()) return perToken(next, fused, this::apply);
            // A literal match may span chunks: hold back the last literal.length() - 1 characters.
            return new Stage() {
                private final StringBuilder held = new StringBuilder();

                @Override
                public void push(String s) {
                    held.append(s);
                    int keep = Math.min(held.length(), literal.length() - 1);
                    int cut = held.length() - keep;
                    int at = held.indexOf(literal);
                    while (at >= 0 && at < cut) { // a match starting before the cut lies inside held
                        cut = Math.max(cut, at + literal.length());
                        at = held.indexOf(literal, at + literal.length());
                    }
                    if (cut > 0 && cut < held.length() && Character.isHighSurrogate(held.charAt(cut - 1))) cut--;
                    if (cut > 0) {
                        next.push(apply(held.substring(0, cut)));
                        held.delete(0, cut);
                    }
                }

                @Override
                public void end() {
                    if (!held.isEmpty()) next.push(apply(held.toString()));
                    held.setLength(0);
                    next.end();
                }
            };
        }
    }

    /**
     * {@code ByteFallback}: a run of byte tokens {@code <0xHH>} becomes the text of its bytes when they
     * are valid UTF-8, else one U+FFFD per byte (HuggingFace's rule, which differs from lossy UTF-8
     * decoding). A later invalid byte spoils a whole run, so a run is released only when a non-byte token
     * arrives or the input ends.
     */
    record ByteFallback() implements Decoder {
        /** The byte a {@code <0xHH>} token stands for, or -1 (the test HuggingFace applies: 6 bytes, hex inside). */
        static int byteOf(String token) {
            if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') return -1;
            int lo = hexDigit(token.charAt(4));
            if (lo < 0) return -1;
            if (token.charAt(3) == '+') return lo; // Rust's from_str_radix accepts a leading '+'
            int hi = hexDigit(token.charAt(3));
            return hi < 0 ? -1 : hi * 16 + lo;
        }

        private static int hexDigit(char c) {
            return c < 0x80 ? Character.digit(c, 16) : -1;
        }

        @Override
        public Stage open(Stage next, boolean fused) {
            Stage runs = new Stage() {
                private byte[] run = new byte[8];
                private int length;

                @Override
                public void push(String token) {
                    int b = byteOf(token);
                    if (b >= 0) {
                        if (length == run.length) run = Arrays.copyOf(run, length * 2);
                        run[length++] = (byte) b;
                        return;
                    }
                    releaseRun();
                    next.push(token);
                }

                @Override
                public void end() {
                    releaseRun();
                    next.end();
                }

                private void releaseRun() {
                    if (length == 0) return;
                    String text = Utf8.decodeStrict(run, 0, length);
                    if (text != null) {
                        next.push(text);
                    } else {
                        for (int i = 0; i < length; i++) next.push(String.valueOf(Utf8.REPLACEMENT));
                    }
                    length = 0;
                }
            };
            return fused ? new WholeString(runs) : runs;
        }
    }

    /** {@code Fuse}: all tokens become one string. */
    record Fuse() implements Decoder {
        @Override
        public boolean fuses(boolean fused) {
            return true;
        }

        @Override
        public Stage open(Stage next, boolean fused) {
            return next;
        }
    }

    /** {@code Strip}: removes up to {@code start} leading and {@code stop} trailing {@code content} characters of each token. */
    record Strip(int content, int start, int stop) implements Decoder {
        String apply(String token) {
            int[] cps = token.codePoints().toArray();
            int from = 0;
            while (from < start && from < cps.length && cps[from] == content) from++;
            int to = cps.length;
            while (cps.length - to < stop && to > from && cps[to - 1] == content) to--;
            return new String(cps, from, to - from);
        }

        @Override
        public Stage open(Stage next, boolean fused) {
            if (!fused) return perToken(next, false, this::apply);
            // One string in chunks: strip at its very start, and hold back a trailing run of content.
            return new Stage() {
                private int stripped;
                private boolean started;
                private int heldRun; // trailing content characters not yet passed on (at most stop)

                @Override
                public void push(String s) {
                    StringBuilder out = new StringBuilder(s.length());
                    for (int i = 0; i < s.length(); ) {
                        int cp = s.codePointAt(i);
                        i += Character.charCount(cp);
                        if (!started && stripped < start && cp == content) {
                            stripped++;
                            continue;
                        }
                        started = true;
                        if (cp == content && stop > 0) {
                            if (heldRun == stop) out.appendCodePoint(content); // the oldest held one is now safe
                            else heldRun++;
                        } else {
                            for (; heldRun > 0; heldRun--) out.appendCodePoint(content);
                            out.appendCodePoint(cp);
                        }
                    }
                    if (!out.isEmpty()) next.push(out.toString());
                }

                @Override
                public void end() {
                    heldRun = 0; // trailing content characters, at most stop of them: stripped
                    next.end();
                }
            };
        }
    }

    /**
     * {@code Metaspace}: the replacement character (▁) becomes a space, except in the first token, where
     * it is dropped unless the prepend scheme is {@code never} (HuggingFace drops every ▁ of that token).
     */
    record Metaspace(int replacement, PrependScheme scheme) implements Decoder {
        @Override
        public Stage open(Stage next, boolean fused) {
            return new Stage() {
                private int index;

                @Override
                public void push(String token) {
                    boolean first = fused || index++ == 0; // a fused input is one token: the first
                    StringBuilder out = new StringBuilder(token.length());
                    token.codePoints().forEach(cp -> {
                        if (cp != replacement) out.appendCodePoint(cp);
                        else if (!first || scheme == PrependScheme.NEVER) out.append(' ');
                    });
                    next.push(out.toString());
                }

                @Override
                public void end() {
                    next.end();
                }
            };
        }
    }

    /** No decoder in tokenizer.json: HuggingFace joins the tokens with single spaces. */
    record JoinWithSpaces() implements Decoder {
        @Override
        public boolean fuses(boolean fused) {
            return true;
        }

        @Override
        public Stage open(Stage next, boolean fused) {
            if (fused) return next;
            return new Stage() {
                private boolean first = true;

                @Override
                public void push(String token) {
                    if (!first) next.push(" ");
                    first = false;
                    next.push(token);
                }

                @Override
                public void end() {
                    next.end();
                }
            };
        }
    }

    /** Collects a fused input to its end and passes it on as one token (for stages that need the whole string). */
    final class WholeString implements Stage {
        private final Stage perToken;
        private final StringBuilder all = new StringBuilder();

        WholeString(Stage perToken) {
            this.perToken = perToken;
        }

        @Override
        public void push(String s) {
            all.append(s);
        }

        @Override
        public void end() {
            perToken.push(all.toString());
            all.setLength(0);
            perToken.end();
        }
    }
}
