#!/usr/bin/env bash
# Checks that every privacy level gives the plaintext answer, in-process and through executor processes:
#   scripts/check-privacy-levels.sh OUT_DIR MODEL_DIR [MODEL_DIR…]
# For each model and level (strong, two-party, seed), runs
#   generate --privacy LEVEL --check --json --max-new-tokens 32
# once with in-process executors and once through `privllm executor` processes on loopback (two for two-party),
# and prints one line per run: model, level, where, identical ids, max logit error. Exit 1 if any run differs
# from plaintext or errs by more than 1e-3.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
privllm="$root/privllm"
out=$1; shift
mkdir -p "$out"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

start_executor() { # sets $address
  local log="$out/executor-$1.log"
  "$privllm" executor --listen 127.0.0.1:0 > "$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 120); do grep -q listening "$log" && break; sleep 1; done
  address=$(grep -m 1 -o '127\.0\.0\.1:[0-9]*' "$log")
}
start_executor a; a=$address
start_executor b; b=$address

failed=0
printf '%-40s %-10s %-10s %-9s %s\n' model level where identical max_logit_abs_err
for model in "$@"; do
  ids="1,2,3,4,5"
  [ -f "$model/tokenizer.json" ] || [ -f "$model/vocab.json" ] && ids=""
  levels="strong two-party seed"
  for level in $levels; do
    for where in in-process executors; do
      flags=(--privacy "$level")
      if [ "$where" = executors ]; then
        flags+=(--executor "$a")
        [ "$level" = two-party ] && flags+=(--share-executor "$b")
      fi
      if [ -n "$ids" ]; then input=(--input-ids "$ids"); else input=(--prompt "Once upon a time"); fi
      json=$("$privllm" generate --model "$model" "${input[@]}" --check --json --max-new-tokens 32 "${flags[@]}" 2>"$out/err.log") || {
        echo "error: $model $level $where: $(tail -1 "$out/err.log")" >&2; failed=1; continue; }
      err=$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_logit_abs_err"])')
      plain=$("$privllm" generate --model "$model" "${input[@]}" --json --max-new-tokens 32 | python3 -c 'import json,sys; print(json.load(sys.stdin)["output_ids"])')
      got=$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["output_ids"])')
      same=no; [ "$plain" = "$got" ] && same=yes
      printf '%-40s %-10s %-10s %-9s %s\n' "$(basename "$model")" "$level" "$where" "$same" "$err"
      python3 -c "import sys; sys.exit(0 if '$same' == 'yes' and float('$err') <= 1e-3 else 1)" || failed=1
    done
  done
done
exit $failed
