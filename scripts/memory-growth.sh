#!/usr/bin/env bash
# Resident memory of the release `all-in-one` (issue #13): idle, after
# N commands (POST /products with unique ids: each one is kept, in the
# write model, the read model and the catalogue cache, since all-in-one
# stores in memory), and after N reads (GET /stock/main/P: nothing to keep,
# so nothing may grow).
#
#   scripts/memory-growth.sh [N]      # default 100000
#
# Prints VmRSS in MiB at each step. Installs wrk (Debian) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}

# shellcheck source=scripts/wrk-lib.sh
source scripts/wrk-lib.sh
cargo build --release --locked -q -p erp-examples --bin all-in-one

cleanup() { kill "${AIO:-}" 2>/dev/null || true; rm -f "${LUA:-}"; }
trap cleanup EXIT
target/release/all-in-one >/dev/null 2>&1 & AIO=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null http://127.0.0.1:8083/health/ready && break
  sleep 0.1
done
curl -sf -o /dev/null -X POST http://127.0.0.1:8083/products -H 'content-type: application/json' \
  -d '{"id":"P","name":"P","unit":"pcs"}'

rss() { awk '/^VmRSS/{printf "%.1f", $2 / 1024}' "/proc/$AIO/status"; }
# Settles for a second (the relay and the metrics upkeep finish their
# passes) before reading.
settled_rss() { sleep 1; rss; }

# Each of wrk's 2 threads sends N/2 requests, then stops.
LUA=$(mktemp --suffix .lua)
cat >"$LUA" <<LUA
-- \`tid\` is the global each thread gets from setup (a local of the same
-- name would shadow it, and both threads would send the same ids).
local sent, done, threads = 0, 0, 0
local limit = math.floor($N / 2)
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
-- The mode (post or get) comes after wrk's own arguments.
function init(args) mode = args[1]; prefix = "m" .. tid .. "-" .. tostring(os.time()) .. "-" end
request = function()
  sent = sent + 1
  if mode == "post" then
    return wrk.format("POST", "/products", {["Content-Type"] = "application/json"},
      '{"id":"' .. prefix .. sent .. '","name":"N","unit":"pcs"}')
  end
  return wrk.format("GET", "/stock/main/P")
end
response = function(status)
  done = done + 1
  if done >= limit then wrk.thread:stop() end
end
LUA

# wrk's threads stop sending at their limit but wrk itself runs out its
# duration, so it is stopped once the service has answered the requests
# (counted in its own metrics).
answered() { # method route status
  curl -sf http://127.0.0.1:8083/metrics |
    awk -v m="$1" -v r="$2" -v s="$3" 'index($0, "http_requests_total{") == 1 &&
      index($0, "method=\"" m "\"") && index($0, "route=\"" r "\"") &&
      index($0, "status=\"" s "\"") { n += $NF } END { printf "%d", n }'
}
run() { # mode method route status
  local before after
  before=$(answered "$2" "$3" "$4")
  wrk -t2 -c16 -d600s -s "$LUA" http://127.0.0.1:8083 -- "$1" >/dev/null & WRK=$!
  while :; do
    after=$(answered "$2" "$3" "$4")
    [ $((after - before)) -ge $((N / 2 * 2)) ] && break
    kill -0 "$WRK" 2>/dev/null || break
    sleep 0.5
  done
  kill "$WRK" 2>/dev/null || true
  wait "$WRK" 2>/dev/null || true
  echo $((after - before))
}

printf '%-34s %10s\n' step 'RSS MiB'
printf '%-34s %10s\n' idle "$(settled_rss)"
posted=$(run post POST /products 201)
printf '%-34s %10s\n' "after $posted POST /products" "$(settled_rss)"
read=$(run get GET "/stock/{store_id}/{product_id}" 200)
printf '%-34s %10s\n' "after $read GET /stock/main/P" "$(settled_rss)"
read=$(run get GET "/stock/{store_id}/{product_id}" 200)
printf '%-34s %10s\n' "after $read more GETs" "$(settled_rss)"
