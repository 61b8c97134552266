package org.privllm.model.tokenizer;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 decoding with Python's {@code errors="replace"} semantics (Unicode "maximal subpart"
 * substitution: one U+FFFD per invalid byte or per truncated valid prefix), which is what
 * HuggingFace's GPT-2 decode produces. Written out rather than delegated to a CharsetDecoder so the
 * replacement rule and the streaming hold-back rule are both explicit here.
 */
final class Utf8 {
    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {}

    /**
     * Decodes {@code buf[off, end)} into {@code out}. With {@code endOfInput == false} a trailing
     * sequence that is valid so far but incomplete is left undecoded; the return value is the index
     * where decoding stopped ({@code end} unless something was held back).
     */
    static int decode(byte[] buf, int off, int end, boolean endOfInput, StringBuilder out) {
        int i = off;
        while (i < end) {
            int b = buf[i] & 0xFF;
            if (b < 0x80) {
                out.append((char) b);
                i++;
                continue;
            }
            int need;
            int lo = 0x80;
            int hi = 0xBF;
            if (b >= 0xC2 && b <= 0xDF) {
                need = 1;
            } else if (b >= 0xE0 && b <= 0xEF) {
                need = 2;
                if (b == 0xE0) lo = 0xA0; // no overlong forms
                if (b == 0xED) hi = 0x9F; // no surrogates
            } else if (b >= 0xF0 && b <= 0xF4) {
                need = 3;
                if (b == 0xF0) lo = 0x90; // no overlong forms
                if (b == 0xF4) hi = 0x8F; // nothing above U+10FFFF
            } else {
                out.append(REPLACEMENT);
                i++;
                continue;
            }
            int cp = b & (0x3F >> need);
            int j = i + 1;
            int got = 0;
            while (got < need && j < end) {
                int c = buf[j] & 0xFF;
                if (c < lo || c > hi) break;
                cp = (cp << 6) | (c & 0x3F);
                lo = 0x80;
                hi = 0xBF;
                j++;
                got++;
            }
            if (got == need) {
                out.appendCodePoint(cp);
            } else if (j == end && !endOfInput) {
                return i;
            } else {
                out.append(REPLACEMENT);
            }
            i = j;
        }
        return end;
    }

    /** The text of {@code buf[off, end)} when it is entirely valid UTF-8, else null (Rust's {@code String::from_utf8}). */
    static String decodeStrict(byte[] buf, int off, int end) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(buf, off, end - off))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
