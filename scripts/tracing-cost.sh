#!/usr/bin/env bash
# The cost of OpenTelemetry tracing on the shipped `GET /stock/{store}/{product}`
# path (issue #20), as ratios in one run: three release `all-in-one`
# processes side by side, identical but for trace export, measured with wrk
# in alternating rounds because these machines drift between runs:
#
#   off    no OTLP endpoint (the default)            on 127.0.0.1
#   100 %  OTLP/HTTP to Jaeger, every trace sampled  on 127.0.0.2
#   1 %    the same, OTEL_TRACES_SAMPLER=parentbased_traceidratio 0.01
#                                                    on 127.0.0.3
#
#   scripts/tracing-cost.sh [rounds] [seconds]      # defaults: 3 rounds of 5 s
#
# Starts Jaeger (scripts/jaeger.sh) as the collector; installs wrk (Debian)
# if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}

# shellcheck source=scripts/wrk-lib.sh
source scripts/wrk-lib.sh
scripts/jaeger.sh >/dev/null
cargo build --release --locked -q -p erp-examples --bin all-in-one

PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; }
trap cleanup EXIT
start() { # ip, then env assignments
  local ip=$1; shift
  env "$@" target/release/all-in-one --bind "$ip" >/dev/null 2>&1 &
  PIDS+=($!)
}
start 127.0.0.1
start 127.0.0.2 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_SERVICE_NAME=tracing-cost-100
start 127.0.0.3 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_SERVICE_NAME=tracing-cost-1 \
  OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01
for ip in 127.0.0.1 127.0.0.2 127.0.0.3; do
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://$ip:8083/health/ready" && break
    sleep 0.1
  done
  curl -sf -o /dev/null -X POST "http://$ip:8083/products" -H 'content-type: application/json' \
    -d '{"id":"P","name":"P","unit":"pcs"}'
done

printf '%-6s %12s %12s %12s %9s %9s\n' round off 'on 100%' 'on 1%' '100%/off' '1%/off'
for r in $(seq 1 "$ROUNDS"); do
  off=$(rps http://127.0.0.1:8083/stock/main/P)
  all=$(rps http://127.0.0.2:8083/stock/main/P)
  one=$(rps http://127.0.0.3:8083/stock/main/P)
  printf '%-6s %12s %12s %12s %9.2f %9.2f\n' "$r" "$off" "$all" "$one" \
    "$(echo "$all / $off" | bc -l)" "$(echo "$one / $off" | bc -l)"
done
