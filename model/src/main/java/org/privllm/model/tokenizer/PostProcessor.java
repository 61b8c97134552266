package org.privllm.model.tokenizer;

import java.util.List;

/** A tokenizer.json {@code post_processor}: the special tokens added around an encoded text (single sequences only). */
sealed interface PostProcessor {
    int[] process(int[] ids, boolean addSpecialTokens);

    /** No post-processor, or one that only trims offsets ({@code ByteLevel}): the ids as they are. */
    record None() implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            return ids;
        }
    }

    /** {@code Sequence}: the processors one after the other. */
    record Sequence(List<PostProcessor> processors) implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            for (PostProcessor p : processors) ids = p.process(ids, addSpecialTokens);
            return ids;
        }
    }

    /**
     * {@code TemplateProcessing}'s {@code single} template, e.g. {@code <s> $A}: {@code before} ids, the
     * text's ids, {@code after} ids. Without special tokens requested, the text's ids alone.
     */
    record Template(int[] before, int[] after) implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            if (!addSpecialTokens || (before.length == 0 && after.length == 0)) return ids;
            int[] out = new int[before.length + ids.length + after.length];
            System.arraycopy(before, 0, out, 0, before.length);
            System.arraycopy(ids, 0, out, before.length, ids.length);
            System.arraycopy(after, 0, out, before.length + ids.length, after.length);
            return out;
        }
    }
}
