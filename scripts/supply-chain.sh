#!/usr/bin/env bash
# Supply-chain checks of the dependency tree, part of scripts/test.sh:
#   - advisories (cargo-audit): fails on any known vulnerability, against the
#     live RustSec database when this machine can fetch it, otherwise the
#     offline snapshot at ../shared/advisory-db when it exists;
#   - licenses, sources, bans (cargo-deny, offline, rules in deny.toml).
# The tools are installed once into .data/tools (pinned versions) and reused,
# so after the first run this takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="$PWD/.data/tools"
AUDIT_VERSION=0.22.2
DENY_VERSION=0.20.2
SNAPSHOT="$PWD/../shared/advisory-db"
LIVE_DB="https://github.com/RustSec/advisory-db.git"

install() {
  local name=$1 version=$2
  if ! "$TOOLS/bin/$name" --version 2>/dev/null | grep -qF "$version"; then
    echo "supply-chain: installing $name $version into .data/tools (first run only)"
    cargo install --quiet --locked --root "$TOOLS" --version "$version" "$name"
  fi
}
install cargo-audit "$AUDIT_VERSION"
install cargo-deny "$DENY_VERSION"
export PATH="$TOOLS/bin:$PATH"

# Advisories. An ignore would go in .cargo/audit.toml, each with its reason.
if timeout 20 git ls-remote "$LIVE_DB" HEAD >/dev/null 2>&1; then
  echo "supply-chain: advisories against the live RustSec database"
  cargo audit --db "$TOOLS/advisory-db"
elif [ -d "$SNAPSHOT" ]; then
  echo "supply-chain: the live RustSec database is out of reach; using the snapshot at $SNAPSHOT"
  cargo audit --db "$SNAPSHOT" --no-fetch --stale
else
  # Nothing to check against on this machine: say so loudly, do not pass
  # it off as checked.
  echo "supply-chain: ADVISORIES NOT CHECKED: the live RustSec database is out of reach and there is no snapshot at $SNAPSHOT" >&2
fi

echo "supply-chain: licenses, sources, bans"
# cargo-deny reads every locked package's manifest, those of other
# platforms too; fetch them first so the check itself runs offline.
cargo fetch --locked --quiet
cargo deny --offline check --hide-inclusion-graph licenses sources bans
