#!/usr/bin/env bash
# Property-based tests of the published OpenAPI documents (issue 19):
# schemathesis, pinned with everything it imports, generates requests from
# each service's /openapi.json and runs every check against a freshly started
# all-in-one (valid requests accepted, invalid ones refused, answers and
# status codes as documented, no server error). Any failure fails the suite.
#
#   scripts/schemathesis.sh [max-examples per operation, default 100]
#
# Needs the debug binaries (cargo build --workspace --bins). Installs
# schemathesis into .data/schemathesis/venv once. Runs from the repository
# root so schemathesis reads schemathesis.toml (its hooks state the
# contract's cross-field refusals, ops/schemathesis/hooks.py).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
max_examples=${1:-100}

venv=.data/schemathesis/venv
requirements=ops/schemathesis/requirements.txt
stamp=$venv/.requirements
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
  echo "schemathesis: installing the pinned set into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi
st=$venv/bin/st
"$st" --version

bin=target/debug
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready() { # url
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "schemathesis: $1 never became ready" >&2
  return 1
}

# The separate binaries serve the same documents as all-in-one: checked here,
# so one schemathesis run per service covers both ways of running it.
"$bin/inventory-svc" --bus memory --store memory \
  --http-addr 127.0.0.1:18183 --grpc-addr 127.0.0.1:15051 >"$work/inventory.log" 2>&1 &
pids+=($!)
"$bin/purchase-svc" --bus memory --store memory \
  --http-addr 127.0.0.1:18181 --inventory-grpc http://127.0.0.1:15051 >"$work/purchase.log" 2>&1 &
pids+=($!)
"$bin/sales-svc" --bus memory --store memory \
  --http-addr 127.0.0.1:18182 --inventory-url http://127.0.0.1:18183 >"$work/sales.log" 2>&1 &
pids+=($!)
"$bin/all-in-one" >"$work/all-in-one.log" 2>&1 &
aio=$!
pids+=($aio)

normalized() { curl -fsS "$1" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'; }
for pair in 8081:18181 8082:18182 8083:18183; do
  wait_ready "http://127.0.0.1:${pair%%:*}/health/ready"
  wait_ready "http://127.0.0.1:${pair##*:}/health/live"
  if [ "$(normalized "http://127.0.0.1:${pair%%:*}/openapi.json")" != \
       "$(normalized "http://127.0.0.1:${pair##*:}/openapi.json")" ]; then
    echo "schemathesis: the binary on :${pair##*:} publishes another document than all-in-one's :${pair%%:*}" >&2
    exit 1
  fi
done
echo "schemathesis: the separate binaries publish the same documents as all-in-one"

# One worker: with several threads, hypothesis' lambda-source parsing trips
# a CPython 3.11 race in ast.parse ("AST constructor recursion depth
# mismatch"), reported by schemathesis as a runtime error.
failed=0
for port in 8081 8082 8083; do
  echo "schemathesis: http://127.0.0.1:$port/openapi.json ($max_examples examples per operation)"
  if ! (cd "$root" && NO_COLOR=1 "$st" run "http://127.0.0.1:$port/openapi.json" \
      --checks all --max-examples "$max_examples" --workers 1 \
      --exclude-path /metrics >"$work/st-$port.txt" 2>&1); then
    failed=1
    # Every failure and error in full, with the summary.
    sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,$p' "$work/st-$port.txt"
  else
    grep -E "generated|^=+ .* in [0-9.]+s =+$" "$work/st-$port.txt" | tail -2
  fi
done

# The process survived it all, still ready, and logged no error.
kill -0 "$aio" || { echo "schemathesis: all-in-one died" >&2; exit 1; }
curl -fsS -o /dev/null http://127.0.0.1:8083/health/ready
if grep -q '"level":"ERROR"\| ERROR ' "$work/all-in-one.log"; then
  echo "schemathesis: all-in-one logged errors:" >&2
  grep '"level":"ERROR"\| ERROR ' "$work/all-in-one.log" | head -20 >&2
  failed=1
fi
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$aio/status")
echo "schemathesis: all-in-one alive afterwards, ${rss_kb} kB resident"
exit "$failed"
