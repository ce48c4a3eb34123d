#!/usr/bin/env bash
# Makes sure `promtool` (from Debian's prometheus package) is installed: the
# metrics lint test pipes each service's /metrics through
# `promtool check metrics`. Idempotent; needs root (or sudo) to install.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool: installing prometheus (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || true
  # The package's server is not wanted running: only its promtool is used.
  as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
promtool --version 2>&1 | head -1
