#!/usr/bin/env bash
# The public API of the five library crates, listed in public-api/<crate>.txt
# and compared on every run, so a change to it is deliberate (issue 16).
#
#   scripts/public-api.sh            compare; fails on any difference
#   scripts/public-api.sh --update   rewrite the listings after a deliberate change
#
# cargo-public-api reads rustdoc's JSON, which only a nightly toolchain
# writes: the machine's `nightly` is used (installed, minimal, when
# missing). The tool is pinned and installed once into .data/tools.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.52.0
TOOLS="$PWD/.data/tools"
if [ "$("$TOOLS/bin/cargo-public-api" --version 2>/dev/null)" != "cargo-public-api $VERSION" ]; then
  echo "public-api: installing cargo-public-api $VERSION into .data/tools (first run only)"
  cargo install --quiet --locked --root "$TOOLS" --version "$VERSION" cargo-public-api
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "public-api: installing a nightly toolchain (minimal profile)"
  rustup toolchain install nightly --profile minimal
fi
export PATH="$TOOLS/bin:$PATH"

update=${1:-}
mkdir -p public-api
failed=0
for crate in erp-core erp-store erp-bus erp-resilience erp-service; do
  listing=public-api/$crate.txt
  current=$(cargo public-api --package "$crate" --all-features --simplified --color never 2>/dev/null)
  if [ "$update" = "--update" ]; then
    printf '%s\n' "$current" >"$listing"
    echo "public-api: wrote $listing ($(wc -l <"$listing") items)"
  elif ! diff -u "$listing" <(printf '%s\n' "$current") >"/tmp/public-api-$crate.diff"; then
    echo "public-api: the public API of $crate changed; if deliberate, run scripts/public-api.sh --update and commit:" >&2
    cat "/tmp/public-api-$crate.diff" >&2
    failed=1
  else
    echo "public-api: $crate unchanged ($(wc -l <"$listing") items)"
  fi
done
exit "$failed"
