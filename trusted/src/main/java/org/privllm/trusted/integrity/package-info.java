/**
 * Integrity of what the untrusted executor returns.
 *
 * <h2>Linear layers: Freivalds</h2>
 * {@link org.privllm.trusted.integrity.VerifyingExecutor} checks every {@code linear} result with two
 * secret vectors per weight (cost {@code O(n·(in+out))} per vector against the {@code O(n·in·out)}
 * product; {@code W̃·r} precomputed at upload, {@code Ã·(B̃·r)} for adapters). False-accept bound for
 * a corrupted row {@code e}: {@code (4τ/‖e‖∞)²}, where {@code τ} is the float32 rounding tolerance of
 * that row; see the class comment for the derivation.
 *
 * <h2>Attention: what is checked now</h2>
 * The fixed {@code Executor.attention} returns only {@code out = A·W̃_proj + b̃_proj}; the c_attn product
 * {@code qkv}, the cache and the attention core {@code A} stay on the executor. Without them nothing
 * can be recomputed (the trusted side holds no masked cache, by design). What is checked today:
 * checksum columns. The c_proj weight is uploaded as {@code [W̃ | W̃·R]} ({@code R: out×2}, secret), so an
 * honest executor returns {@code [out | out·R]}; the verifier checks each row in {@code O(out·2)} and
 * strips the columns. Extra executor work: {@code 2/out} of c_proj (0.3% at GPT-2 width). It catches any
 * corruption of the returned rows beyond float tolerance (faults, a careless or non-adaptive
 * adversary). It does <em>not</em> catch (a) a wrong core or c_attn product projected honestly, and (b) an
 * adaptive executor, which can find the checksum columns by rank analysis of the uploaded weight
 * ({@code O(out³)}) and then corrupt consistently.
 *
 * <h2>Attention: the sound design (needs an executor extension, not built)</h2>
 * An optional audited attention call returning, besides {@code out}, the c_attn result {@code qkv}
 * ({@code n×3w}) and the core output {@code A} ({@code n×w}), plus a call returning the cached
 * {@code K̃_h, Ṽ_h} rows of one (sequence, head). Then, per call:
 * <ol>
 *   <li>{@code qkv} by Freivalds with the c_attn weight's vectors ({@code O(n·(in+3w))});</li>
 *   <li>{@code out} by Freivalds with c_proj's vectors given {@code A} ({@code O(n·w)});</li>
 *   <li>cache consistency: for every verified appended K̃/Ṽ row the verifier keeps a sketch
 *       {@code k̃_j·s_h}, {@code ṽ_j·s'_h} per head (secret {@code s}; {@code 2·H} floats per slot and layer,
 *       {@code 1/d_h} of the cache);</li>
 *   <li>core spot-check: for {@code k} random (row, head) pairs fetch {@code K̃_h, Ṽ_h} of that sequence
 *       ({@code 2·past·d_h} floats), check them against the sketches, recompute
 *       {@code softmax(scale·q·K̃ᵀ + mask)·Ṽ} in double and compare with {@code A}'s block
 *       ({@code O(k·past·d_h)}).</li>
 * </ol>
 * Soundness: 1 and 2 bind {@code qkv} and {@code out} to {@code A} with the Freivalds bound; a corrupted
 * core block survives 4 with probability {@code 1 − k/(n·H)} per call when only one block is wrong, and
 * the corruption has to recur for every token to change the output, so over {@code T} tokens it survives
 * with probability {@code ≤ (1 − k/(n·H))^T}. Cost per decode step: {@code 4w} extra floats on the wire
 * per row, {@code O(k·past·d_h)} trusted work and {@code 2k·past·d_h} floats fetched. The executor sees
 * nothing new: {@code A}, {@code qkv} and the cache are its own masked intermediates.
 */
package org.privllm.trusted.integrity;
