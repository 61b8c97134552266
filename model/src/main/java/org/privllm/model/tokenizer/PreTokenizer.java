package org.privllm.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/** A tokenizer.json {@code pre_tokenizer}: cuts normalized text into the words BPE sees one at a time. */
sealed interface PreTokenizer {
    /**
     * A piece of text; {@code atInputStart} when it begins at offset 0 of the text given to encode
     * (Metaspace's prepend scheme {@code first} adds its ▁ only there, not after a special token).
     */
    record Piece(String text, boolean atInputStart) {}

    /** Cuts {@code piece} and passes on its non-empty parts in order. */
    void split(Piece piece, Consumer<Piece> out);

    /** {@code Sequence}: each pre-tokenizer cuts every piece the previous one produced. */
    record Sequence(List<PreTokenizer> preTokenizers) implements PreTokenizer {
        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            List<Piece> pieces = List.of(piece);
            for (PreTokenizer p : preTokenizers) {
                List<Piece> next = new ArrayList<>();
                for (Piece q : pieces) p.split(q, next::add);
                pieces = next;
            }
            pieces.forEach(out);
        }
    }

    /**
     * {@code ByteLevel}: optionally a leading space, optionally GPT-2's split, then every UTF-8 byte
     * becomes its printable stand-in character (GPT-2's byte↔unicode map), the alphabet of byte-level BPE.
     */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        /** GPT-2's pre-tokenisation pattern, as HuggingFace's ByteLevel writes it. */
        static final Pattern GPT2 = OnigRegex.compile(
                "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            String text = piece.text();
            if (addPrefixSpace && !text.startsWith(" ")) text = " " + text;
            Piece spaced = new Piece(text, piece.atInputStart());
            Consumer<Piece> toBytes = p -> out.accept(
                    new Piece(ByteUnicode.encode(p.text().getBytes(StandardCharsets.UTF_8)), p.atInputStart()));
            if (useRegex) SplitBehavior.ISOLATED.split(spaced, Matches.of(GPT2, text, false), toBytes);
            else toBytes.accept(spaced);
        }
    }

    /** {@code Split}: cuts at the matches of a regex (or literal) pattern; {@code invert} swaps matches and gaps. */
    record Split(Pattern pattern, SplitBehavior behavior, boolean invert) implements PreTokenizer {
        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            behavior.split(piece, Matches.of(pattern, piece.text(), invert), out);
        }
    }

    /** {@code Metaspace}: spaces become ▁, a ▁ is prepended per the scheme, and optionally each ▁ starts a new piece. */
    record Metaspace(int replacement, PrependScheme scheme, boolean splitPieces) implements PreTokenizer {
        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            String rep = Character.toString(replacement);
            String text = piece.text().replace(" ", rep);
            boolean prepend = switch (scheme) {
                case ALWAYS -> true;
                case FIRST -> piece.atInputStart();
                case NEVER -> false;
            };
            if (prepend && !text.startsWith(rep)) text = rep + text;
            Piece replaced = new Piece(text, piece.atInputStart());
            if (splitPieces) {
                SplitBehavior.MERGED_WITH_NEXT.split(replaced, Matches.ofChars(cp -> cp == replacement, text), out);
            } else {
                out.accept(replaced);
            }
        }
    }

    /** {@code Digits}: numeric characters apart from the rest, each alone or in runs. */
    record Digits(boolean individualDigits) implements PreTokenizer {
        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            SplitBehavior behavior = individualDigits ? SplitBehavior.ISOLATED : SplitBehavior.CONTIGUOUS;
            behavior.split(piece, Matches.ofChars(Unicode::isNumeric, piece.text()), out);
        }
    }

    /** {@code Punctuation}: each punctuation character is a match for {@code behavior}. */
    record Punctuation(SplitBehavior behavior) implements PreTokenizer {
        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            behavior.split(piece, Matches.ofChars(Unicode::isPunctuation, piece.text()), out);
        }
    }

    /** {@code Whitespace}: runs of word characters and runs of other non-space characters; spaces dropped. */
    record Whitespace() implements PreTokenizer {
        private static final String WORD = "\\p{IsAlphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}"; // Rust regex's \w
        private static final Pattern WORDS_OR_SYMBOLS =
                Pattern.compile("[" + WORD + "]+|[^" + WORD + "\\t-\\r\\x{85}\\p{Z}]+");

        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            SplitBehavior.REMOVED.split(piece, Matches.of(WORDS_OR_SYMBOLS, piece.text(), true), out);
        }
    }

    /** {@code WhitespaceSplit}: cuts at white space, which is dropped. */
    record WhitespaceSplit() implements PreTokenizer {
        @Override
        public void split(Piece piece, Consumer<Piece> out) {
            SplitBehavior.REMOVED.split(piece, Matches.ofChars(Unicode::isWhiteSpace, piece.text()), out);
        }
    }
}
