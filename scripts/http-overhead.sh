#!/usr/bin/env bash
# The shipped HTTP path against bare axum, in the same run (issue #13):
# `all-in-one` exactly as the README runs it (default log level, metrics,
# request ids, deadline, panic guard) and the bare-axum baseline
# (examples/examples/bare_axum.rs), both release builds, measured with wrk
# in alternating rounds because these machines drift between runs.
#
#   scripts/http-overhead.sh [rounds] [seconds]     # defaults: 3 rounds of 5 s
#
# Prints requests/s of each side and their ratio for `GET /stock/main/P`
# and `POST /products` with unique ids; a third column runs a second
# `all-in-one` (on 127.0.0.2) with telemetry off (`RUST_LOG=off`: no log
# or span is recorded; metrics stay, they are always on) for comparison.
# Installs wrk (Debian) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}

# shellcheck source=scripts/wrk-lib.sh
source scripts/wrk-lib.sh
cargo build --release --locked -q -p erp-examples --bin all-in-one --example bare_axum

cleanup() { kill "${AIO:-}" "${OFF:-}" "${BARE:-}" 2>/dev/null || true; }
trap cleanup EXIT
target/release/all-in-one >/dev/null 2>&1 & AIO=$!
RUST_LOG=off target/release/all-in-one --bind 127.0.0.2 >/dev/null 2>&1 & OFF=$!
PORT=9083 target/release/examples/bare_axum >/dev/null 2>&1 & BARE=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null http://127.0.0.1:8083/health/ready &&
    curl -sf -o /dev/null http://127.0.0.2:8083/health/ready &&
    curl -s -o /dev/null http://127.0.0.1:9083/ && break
  sleep 0.1
done
for host in 127.0.0.1 127.0.0.2; do
  curl -sf -o /dev/null -X POST "http://$host:8083/products" -H 'content-type: application/json' \
    -d '{"id":"P","name":"P","unit":"pcs"}'
done

POST_LUA=$(mktemp --suffix .lua)
cat >"$POST_LUA" <<'LUA'
-- `tid` is the global each thread gets from setup (a local of the same
-- name would shadow it, and both threads would send the same ids).
local n, threads = 0, 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) prefix = "w" .. tid .. "-" .. tostring(os.time()) .. "-" end
request = function()
  n = n + 1
  return wrk.format("POST", "/products", {["Content-Type"] = "application/json"},
    '{"id":"' .. prefix .. n .. '","name":"N","unit":"pcs"}')
end
LUA

printf '%-8s %-6s %12s %12s %7s %14s %7s\n' path round bare-axum all-in-one ratio telemetry-off ratio
for path in get post; do
  for r in $(seq 1 "$ROUNDS"); do
    if [ "$path" = get ]; then
      bare=$(rps http://127.0.0.1:9083/stock/main/P); sdk=$(rps http://127.0.0.1:8083/stock/main/P)
      off=$(rps http://127.0.0.2:8083/stock/main/P)
    else
      bare=$(rps -s "$POST_LUA" http://127.0.0.1:9083); sdk=$(rps -s "$POST_LUA" http://127.0.0.1:8083)
      off=$(rps -s "$POST_LUA" http://127.0.0.2:8083)
    fi
    printf '%-8s %-6s %12s %12s %7.2f %14s %7.2f\n' "$path" "$r" "$bare" "$sdk" \
      "$(echo "$sdk / $bare" | bc -l)" "$off" "$(echo "$off / $bare" | bc -l)"
  done
done
rm -f "$POST_LUA"
