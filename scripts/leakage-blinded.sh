#!/usr/bin/env bash
# The leakage attacks on what real executor processes receive at a blinded privacy level:
#   scripts/leakage-blinded.sh MODEL_DIR strong|two-party OUT_DIR [PROMPTS_FILE [REPEATS]]
# starts one executor (strong) or two (two-party: party A gets X+R, party B gets -R), each with --transcript,
# and generates through them:
#   1. every prompt of PROMPTS_FILE (one per line; default: the lab's built-in prompts, first 50) as one batch,
#      4 greedy tokens;
#   2. the first 10 prompts again REPEATS times (default 4; one new token each, fresh sessions): pad averaging;
#   3. the known-plaintext variant, on fresh executors: the first prompt (standing for a shared system prompt the
#      attacker knows) in one batch with the 49 others.
# Then `experiment leakage --privacy LEVEL --transcript` attacks each party's transcript of runs 1-2 and of run 3
# (--known-first). Results in OUT_DIR/{main,known}-party{0,1}/blinded-leakage.{json,csv,md,png,svg} and OUT_DIR/summary.md.
# VARIANTS="main known" (the default) picks which of the two to run.
# The transcripts (the public weights' uploads, ~500 MB per session at 124M, and every padded row) and the plaintext
# ids the trusted side generated (truth*.jsonl, used only to score) are deleted afterwards unless KEEP_TRANSCRIPT=1.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
model=$1 level=$2 out=$3
prompts=${4:-$root/lab/src/main/resources/org/privllm/lab/leakage/prompts.txt}
repeats=${5:-4}
case "$level" in strong) parties=1 ;; two-party) parties=2 ;; *) echo "error: level must be strong or two-party" >&2; exit 2 ;; esac
[ -f "$prompts" ] || { echo "error: no prompts file $prompts" >&2; exit 2; }
privllm="$root/privllm"
mkdir -p "$out"

# token ids of prompts FROM..TO (stripped, blank lines dropped, JSON-escaped) -> "1,2,3;4,5"
ids_of() {
  awk -v a="$1" -v b="$2" '{ sub(/\r$/, ""); gsub(/^[ \t]+|[ \t]+$/, ""); if ($0 == "") next; k++; if (k < a) next; if (k > b) exit
                   gsub(/\\/, "&&"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); print "\"" $0 "\"" }' "$prompts" \
    | "$privllm" tokenize --model "$model" | tr -d '[] ' | paste -sd';'
}
all=$(ids_of 1 50)
first=$(ids_of 1 10)
others=$(ids_of 2 50)
known=$(ids_of 1 1)
[ -n "$all" ] || { echo "error: $prompts holds no prompt" >&2; exit 2; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ "${KEEP_TRANSCRIPT:-0}" = 1 ] || rm -rf "$out"/transcript-* "$out"/truth-*.jsonl
}
trap cleanup EXIT

# starts one executor recording into $1; sets $address (not a subshell: $pids must keep its pid)
start_executor() {
  local log="$1.log"
  "$privllm" executor --listen 127.0.0.1:0 --transcript "$1" --max-memory-mb 6144 > "$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 120); do
    grep -q listening "$log" && break
    sleep 1
  done
  address=$(grep -m 1 -o '127\.0\.0\.1:[0-9]*' "$log") || { echo "error: an executor did not start (see $log)" >&2; exit 1; }
}

# run VARIANT: fresh executors recording into transcript-VARIANT-partyN, then the batches given as arguments
run() {
  local variant=$1; shift
  rm -rf "$out"/transcript-"$variant"-* "$out/truth-$variant.jsonl"
  start_executor "$out/transcript-$variant-party0"
  local flags=(--privacy "$level" --executor "$address")
  if [ "$parties" = 2 ]; then
    start_executor "$out/transcript-$variant-party1"
    flags+=(--share-executor "$address")
  fi
  while [ $# -gt 0 ]; do
    "$privllm" generate --model "$model" --input-ids "$1" --max-new-tokens "$2" "${flags[@]}" --json >> "$out/truth-$variant.jsonl"
    shift 2
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}

variants=${VARIANTS:-main known}
main_runs=("$all" 4)
for _ in $(seq "$repeats"); do main_runs+=("$first" 1); done
case " $variants " in *" main "*) run main "${main_runs[@]}" ;; esac
case " $variants " in *" known "*) run known "$known;$others" 4 ;; esac

: > "$out/summary.md"
for variant in $variants; do
  for party in $(seq 0 $((parties - 1))); do
    extra=()
    [ "$variant" = known ] && extra=(--known-first)
    "$privllm" experiment leakage --model "$model" --privacy "$level" --transcript "$out/transcript-$variant-party$party" \
      --truth "$out/truth-$variant.jsonl" --party "$party" "${extra[@]}" --out "$out/$variant-party$party" \
      | tee -a "$out/summary.md"
  done
done
