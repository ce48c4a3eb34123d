#!/usr/bin/env bash
# The SDK from outside (issue 16): copies examples/guide/ (docs/guide.md's
# finished service, a standalone crate) out of the repository, points its
# path dependencies at this checkout's library crates, and builds and tests
# it there, with its own lock file. It shares this workspace's target
# directory, so dependencies built for the workspace are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -r examples/guide "$work/loyalty-svc"
# The copy's own paths: to the library crates of this checkout.
sed -i "s#path = \"../../crates/#path = \"$root/crates/#" "$work/loyalty-svc/Cargo.toml"
if grep -q '\.\./\.\./' "$work/loyalty-svc/Cargo.toml"; then
  echo "guide-test: a relative path left in Cargo.toml" >&2
  exit 1
fi
if grep -rqE "^(purchase|sales|inventory)[-_]svc|erp[-_]domain" "$work/loyalty-svc/Cargo.toml"; then
  echo "guide-test: the guide must depend on the library crates only" >&2
  exit 1
fi

cd "$work/loyalty-svc"
export CARGO_TARGET_DIR="$root/target"
cargo build --locked --all-targets
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
echo "guide-test: examples/guide builds and passes its tests outside the repository"
