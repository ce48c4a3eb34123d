#!/usr/bin/env bash
# Makes sure a MongoDB-compatible server (FerretDB 1.24.2, SQLite handler)
# answers on 127.0.0.1:27017. Idempotent: builds FerretDB from the Go module
# proxy only when the binary is missing, starts it only when nothing answers.
# Data lives in .data/ferretdb (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v1.24.2
BIN_DIR="$PWD/.data/bin"
BIN="$BIN_DIR/ferretdb"
DATA="$PWD/.data/ferretdb"
LOG="$PWD/.data/ferretdb.log"
ADDR=127.0.0.1:27017
mkdir -p "$BIN_DIR" "$DATA"

answers() {
  # A MongoDB `ping` over the wire protocol, without needing mongosh.
  python3 - "$ADDR" <<'PY'
import socket, struct, sys
host, port = sys.argv[1].split(":")
def cstr(s): return s.encode() + b"\0"
# OP_MSG with one body section: {ping: 1, $db: "admin"}
doc = b"\x10" + cstr("ping") + struct.pack("<i", 1) + b"\x02" + cstr("$db") + struct.pack("<i", 6) + cstr("admin")
doc = struct.pack("<i", len(doc) + 5) + doc + b"\0"
body = struct.pack("<I", 0) + b"\0" + doc
msg = struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body
try:
    s = socket.create_connection((host, int(port)), timeout=2)
    s.sendall(msg)
    reply = s.recv(4096)
    sys.exit(0 if b"ok" in reply else 1)
except OSError:
    sys.exit(1)
PY
}

if [ ! -x "$BIN" ]; then
  echo "ferretdb: building $VERSION from the Go module proxy (first run only)"
  # A plain `go install …@$VERSION` builds a binary that panics at start:
  # the module ships without build/version/version.txt (FerretDB generates
  # it in its own build). So build from a writable copy of the module with
  # that one file added.
  MOD_DIR=$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  SRC="$PWD/.data/src/ferretdb-$VERSION"
  rm -rf "$SRC"
  mkdir -p "$(dirname "$SRC")"
  cp -r "$MOD_DIR" "$SRC"
  chmod -R u+w "$SRC"
  echo "$VERSION" > "$SRC/build/version/version.txt"
  (cd "$SRC" && go build -o "$BIN" ./cmd/ferretdb)
fi

if ! answers; then
  echo "ferretdb: starting on $ADDR"
  nohup "$BIN" --handler=sqlite --sqlite-url="file:$DATA/" --listen-addr="$ADDR" \
    --debug-addr=127.0.0.1:0 --state-dir="$PWD/.data" --telemetry=disable --log-level=warn >"$LOG" 2>&1 &
  for _ in $(seq 1 60); do
    answers && break
    sleep 0.5
  done
fi

if ! answers; then
  echo "ferretdb: did not start; see $LOG" >&2
  tail -20 "$LOG" >&2 || true
  exit 1
fi
echo "ferretdb: running on $ADDR"
