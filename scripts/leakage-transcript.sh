#!/usr/bin/env bash
# The leakage attacks on what a real executor process receives:
#   scripts/leakage-transcript.sh MODEL_DIR MODE MASKS OUT_DIR [PROMPTS_FILE [REPEATS]]
# starts `privllm executor --transcript`, generates (4 greedy tokens) from every prompt of PROMPTS_FILE
# (one per line; default: the lab's built-in prompts, first 50) as one batch in one trusted session, then
# from the first REPEATS (default 10) again in a fresh session (the linkability pairs), stops the executor and
# runs `experiment leakage --transcript`. Results in OUT_DIR/leakage.{json,csv,md,png,svg}; the transcript
# (about 1 GB per session at 124M) and the plaintext ids the trusted side generated (truth.jsonl, used only
# to score) are deleted afterwards unless KEEP_TRANSCRIPT=1.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
model=$1 mode=$2 masks=$3 out=$4
prompts=${5:-$root/lab/src/main/resources/org/privllm/lab/leakage/prompts.txt}
repeats=${6:-10}
[ -f "$prompts" ] || { echo "error: no prompts file $prompts" >&2; exit 2; }
privllm="$root/privllm"
mkdir -p "$out"
tr="$out/transcript" truth="$out/truth.jsonl"
rm -rf "$tr" "$truth"

# token ids of the first N prompts (stripped, blank lines dropped, JSON-escaped) -> "1,2,3;4,5"
ids_of() {
  awk -v n="$1" '{ sub(/\r$/, ""); gsub(/^[ \t]+|[ \t]+$/, ""); if ($0 == "") next; if (++k > n) exit
                   gsub(/\\/, "&&"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); print "\"" $0 "\"" }' "$prompts" \
    | "$privllm" tokenize --model "$model" | tr -d '[] ' | paste -sd';'
}
all=$(ids_of 50)
rep=$(ids_of "$repeats")
[ -n "$all" ] || { echo "error: $prompts holds no prompt" >&2; exit 2; }

cleanup() {
  kill "$executor" 2>/dev/null || true
  [ "${KEEP_TRANSCRIPT:-0}" = 1 ] || rm -rf "$tr" "$truth"
}
"$privllm" executor --listen 127.0.0.1:0 --transcript "$tr" > "$out/executor.log" 2>&1 &
executor=$!
trap cleanup EXIT
for _ in $(seq 120); do
  grep -q listening "$out/executor.log" && break
  kill -0 "$executor" 2>/dev/null || break
  sleep 1
done
address=$(grep -m 1 -o '127\.0\.0\.1:[0-9]*' "$out/executor.log" || true)
[ -n "$address" ] || { echo "error: the executor did not start (see $out/executor.log)" >&2; exit 1; }

for batch in "$all" "$rep"; do
  "$privllm" generate --model "$model" --input-ids "$batch" --max-new-tokens 4 --obfuscate --mode "$mode" \
    --masks "$masks" --executor "$address" --json >> "$truth"
done
kill "$executor"; wait "$executor" 2>/dev/null || true

"$privllm" experiment leakage --model "$model" --transcript "$tr" --truth "$truth" --masks "$masks" --out "$out"
