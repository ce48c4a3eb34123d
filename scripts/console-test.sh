#!/usr/bin/env bash
# The console's browser test (issue 14): headless Chromium (Debian's
# chromium, installed when missing; needs root or sudo) driven by
# playwright-core (pinned in ops/console-test/package-lock.json, installed
# once into .data/console-test) against a fresh all-in-one started with an
# API token: a purchase through the console's form (refused without the
# token, recorded with it), the new stock and events appearing live, a
# purchase over REST appearing without a reload, the breaker, dead letters
# and the API explorer. Saves a screenshot (.data/console-test/console.png).
#
#   scripts/console-test.sh [--update-screenshot]   (also copies it to docs/console.png)
#
# Needs the debug binaries (cargo build --workspace --bins) and the
# console's port 8080 and the services' 8081-8084 free.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

home=.data/console-test
mkdir -p "$home"
if ! command -v chromium >/dev/null 2>&1; then
  echo "console-test: installing Debian's chromium"
  as_root apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! cmp -s ops/console-test/package-lock.json "$home/package-lock.json" \
  || [ ! -d "$home/node_modules/playwright-core" ]; then
  echo "console-test: installing the pinned playwright-core into $home"
  cp ops/console-test/package.json ops/console-test/package-lock.json "$home/"
  (cd "$home" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp ops/console-test/console.test.mjs "$home/"

token="console-test-$RANDOM$RANDOM"
target/debug/all-in-one --api-token "$token" --no-mail >"$home/all-in-one.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if curl -fsS -o /dev/null http://127.0.0.1:8080/ 2>/dev/null \
    && curl -fsS -o /dev/null http://127.0.0.1:8083/health/ready 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "console-test: all-in-one exited; see $home/all-in-one.log" >&2
    exit 1
  fi
  sleep 0.1
done

node "$home/console.test.mjs" http://127.0.0.1:8080/ http://127.0.0.1:8081 \
  http://127.0.0.1:8083 "$token" "$home/console.png"
if [ "${1:-}" = "--update-screenshot" ]; then
  cp "$home/console.png" docs/console.png
  echo "console-test: docs/console.png updated"
fi
