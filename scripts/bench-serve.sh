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
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
privllm="$root/privllm"
serve_args=() bench_args=() model=""
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; bench_args=("$@"); break ;;
    --model) model=$2; shift 2 ;;
    *) serve_args+=("$1"); shift ;;
  esac
done
if [ -z "$model" ]; then
  model="${TMPDIR:-/tmp}/privllm-bench-serve"
  [ -f "$model/config.json" ] || "$privllm" fixture --out "$model" --layers 4 --embd 128 --heads 4 --positions 256 --seed 1 >/dev/null
fi
work=$(mktemp -d)
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
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
"$java" -cp "$root/cli/target/privllm.jar" org.privllm.server.bench.ServeBench --url "$url" \
  ${bench_args[@]+"${bench_args[@]}"} || status=$?
exit $status
