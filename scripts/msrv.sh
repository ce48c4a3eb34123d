#!/usr/bin/env bash
# Keeps `rust-version` true: the whole workspace (all features, all
# targets) must build with the toolchain Cargo.toml declares. Installs that
# toolchain (minimal profile) with rustup when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

MSRV=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$MSRV" ] || { echo "msrv: no rust-version in Cargo.toml" >&2; exit 1; }
if ! rustup run "$MSRV" rustc --version >/dev/null 2>&1; then
  echo "msrv: installing Rust $MSRV (minimal profile)"
  rustup toolchain install "$MSRV" --profile minimal
fi
echo "msrv: checking the workspace with Rust $MSRV"
cargo "+$MSRV" check --workspace --all-targets --all-features --locked
