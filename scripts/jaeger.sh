#!/usr/bin/env bash
# A real OpenTelemetry backend for the tracing test: Jaeger v2, built from
# its Go module (no binary release is reachable here) into .data/jaeger and
# started on loopback when not already answering. Idempotent.
#
#   OTLP in:   127.0.0.1:4317 (gRPC), 127.0.0.1:4318 (HTTP)
#   query API: http://127.0.0.1:16686/api/traces/{trace id}
#
# The first build takes about 4 minutes on 2 cores; the binary is reused.
#   scripts/jaeger.sh        build if needed, start if not running
#   scripts/jaeger.sh stop   stop the one this script started
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v1.75.0 # Jaeger v2's first line of releases is tagged v1.x in Go
HOME_DIR="$PWD/.data/jaeger"
BIN="$HOME_DIR/bin/jaeger-$VERSION"
QUERY="http://127.0.0.1:16686"

answering() { curl -fsS -o /dev/null "$QUERY/api/services" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
  if [ -f "$HOME_DIR/jaeger.pid" ]; then
    kill "$(cat "$HOME_DIR/jaeger.pid")" 2>/dev/null || true
    rm -f "$HOME_DIR/jaeger.pid"
  fi
  exit 0
fi

if answering; then
  echo "jaeger: already answering on $QUERY"
  exit 0
fi

if [ ! -x "$BIN" ]; then
  echo "jaeger: building Jaeger $VERSION from its Go module (first run only, a few minutes)"
  build="$HOME_DIR/build"
  mkdir -p "$build" "$HOME_DIR/bin"
  (
    cd "$build"
    [ -f go.mod ] || go mod init erp-jaeger-build >/dev/null 2>&1
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION"
    go build -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
  )
  mv "$BIN.tmp" "$BIN"
fi

echo "jaeger: starting (log in .data/jaeger/jaeger.log)"
# With no config Jaeger v2 runs all-in-one: in-memory storage, OTLP on
# 4317/4318 and the query API on 16686, all on loopback.
nohup "$BIN" >"$HOME_DIR/jaeger.log" 2>&1 &
echo $! >"$HOME_DIR/jaeger.pid"
for _ in $(seq 1 120); do
  if answering; then
    echo "jaeger: ready on $QUERY"
    exit 0
  fi
  if ! kill -0 "$(cat "$HOME_DIR/jaeger.pid")" 2>/dev/null; then
    echo "jaeger: exited during start; last lines of its log:" >&2
    tail -20 "$HOME_DIR/jaeger.log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "jaeger: not answering on $QUERY after 60 s" >&2
exit 1
