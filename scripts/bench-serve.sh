#!/usr/bin/env bash
# Load benchmark of `privllm serve`, small scale by default:
#   scripts/bench-serve.sh [--model DIR] [SERVE OPTIONS…] [-- BENCH OPTIONS…]
# Without --model it writes a small random GPT-2 (4 layers, 128 wide, 256 positions, GPT-2's vocabulary) under
# ${TMPDIR:-/tmp}/privllm-bench-serve. Starts `privllm serve` on a free loopback port with the SERVE OPTIONS
# (e.g. --privacy strong --max-batch 8 --executor A,B), runs the bench (org.privllm.server.bench.ServeBench:
# --clients N --requests M --prompt-tokens MIN-MAX --new-tokens MIN-MAX --seed S --json; defaults 8 clients,
# 24 requests, 5-100 prompt tokens, 16-64 new tokens), then stops the server with SIGTERM. The bench sends every
# request alone first (the single-client baseline and each request's reference answer), then all of them from N
# concurrent streaming clients; it reports p50/p99 time to first token and inter-token latency, throughput
# against the single client's, and exits 1 if any concurrent answer differs from the same request alone.
# -- --diff-out FILE writes each differing request and both answers (text and token ids) to FILE; -- --checkpoint
# DIR (the model's directory) checks them against the plaintext model and counts a pair that parts at a near tie
# of the level's rounding as a tie instead of wrong (README: Load benchmark).
# --kill-executor: also starts two executor processes (privllm executor --listen 127.0.0.1:0), serves with
# --executor A,B (and --retries 1 unless given; strong unless --privacy says otherwise), and the bench SIGKILLs A
# once half the concurrent phase's chunks have streamed (-- --kill-at F for another fraction): each answer must
# then be the right text or a clean error object (ok / clean_errors / wrong / broken in the report), and the server
# must still answer correctly afterwards (still_serving). Exit 0 only when every check held ("passed": true).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
privllm="$root/privllm"
serve_args=() bench_args=() model="" kill_executor=0 has_retries=0 has_executor=0
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; bench_args=("$@"); break ;;
    --model) model=$2; shift 2 ;;
    --kill-executor) kill_executor=1; shift ;;
    --retries) has_retries=1; serve_args+=("$1"); shift ;;
    --executor) has_executor=1; serve_args+=("$1"); shift ;;
    *) serve_args+=("$1"); shift ;;
  esac
done
if [ -z "$model" ]; then
  model="${TMPDIR:-/tmp}/privllm-bench-serve"
  [ -f "$model/config.json" ] || "$privllm" fixture --out "$model" --layers 4 --embd 128 --heads 4 --positions 256 --seed 1 >/dev/null
fi
work=$(mktemp -d)
executors=()
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  for e in ${executors[@]+"${executors[@]}"}; do kill "$e" 2>/dev/null && wait "$e" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
if [ $kill_executor = 1 ]; then
  [ $has_executor = 0 ] || { echo "error: --kill-executor starts its own two executors: leave out --executor" >&2; exit 2; }
  addresses=()
  for i in 0 1; do
    "$privllm" executor --listen 127.0.0.1:0 > "$work/executor$i.out" 2> "$work/executor$i.err" &
    executors+=($!)
    for _ in $(seq 600); do
      grep -q "listening on" "$work/executor$i.out" 2>/dev/null && break
      kill -0 "${executors[$i]}" 2>/dev/null || { echo "error: privllm executor did not start:" >&2; cat "$work/executor$i.err" >&2; exit 1; }
      sleep 0.5
    done
    addresses+=("$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/executor$i.out" | head -1)")
  done
  disown "${executors[0]}" # it dies by SIGKILL: no job notice from bash
  echo "bench-serve: executors ${addresses[0]} (killed mid-load, pid ${executors[0]}) and ${addresses[1]}" >&2
  serve_args+=(--executor "${addresses[0]},${addresses[1]}")
  [ $has_retries = 1 ] || serve_args+=(--retries 1)
  bench_args+=(--kill-pid "${executors[0]}")
fi
"$privllm" serve --model "$model" --listen 127.0.0.1:0 ${serve_args[@]+"${serve_args[@]}"} > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for _ in $(seq 600); do
  grep -q "listening on" "$work/serve.out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { echo "error: privllm serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
  sleep 0.5
done
url=$(sed -n 's/.*listening on \(https\{0,1\}:\/\/[^ ]*\).*/\1/p' "$work/serve.out" | head -1)
[ -n "$url" ] || { echo "error: no ready line from privllm serve" >&2; exit 1; }
echo "bench-serve: $(head -1 "$work/serve.out")" >&2
has_prompt_tokens=0
for a in ${bench_args[@]+"${bench_args[@]}"}; do [ "$a" = --prompt-tokens ] && has_prompt_tokens=1; done
[ $has_prompt_tokens = 1 ] || bench_args+=(--prompt-tokens 5-100)
java=""
for c in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25*; do
  [ -x "$c/bin/java" ] && { java="$c/bin/java"; break; }
done
[ -n "$java" ] || { echo "error: no JDK 25 found (set JAVA_HOME)" >&2; exit 3; }
status=0
# the vector module: -- --checkpoint runs the plaintext model in the bench to check differing answers
"$java" --add-modules=jdk.incubator.vector -cp "$root/cli/target/privllm.jar" org.privllm.server.bench.ServeBench --url "$url" \
  ${bench_args[@]+"${bench_args[@]}"} || status=$?
if [ $status != 0 ]; then
  echo "bench-serve: the bench failed (exit $status); the server's log ends:" >&2
  tail -n 20 "$work/serve.err" >&2 || true
fi
exit $status
