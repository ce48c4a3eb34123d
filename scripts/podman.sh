#!/usr/bin/env bash
# Podman for building and running the images here: installs podman, buildah
# and runc (Debian), podman-compose 1.6.0 (PyPI, into .data/podman/venv:
# Debian's 1.0 has no `config`), the musl target and musl-tools (static
# binaries), and writes the containers.conf this machine kind needs.
# Idempotent; callers source the settings from scripts/podman-env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in podman buildah runc musl-gcc; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "podman: installing podman, buildah, runc, musl-tools (Debian packages)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq podman buildah runc musl-tools >/dev/null
fi
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  echo "podman: adding the x86_64-unknown-linux-musl Rust target"
  rustup target add x86_64-unknown-linux-musl >/dev/null
fi
mkdir -p .data/podman
COMPOSE_VERSION=1.6.0
if ! .data/podman/venv/bin/podman-compose --version 2>/dev/null | grep -qF "$COMPOSE_VERSION"; then
  echo "podman: installing podman-compose $COMPOSE_VERSION into .data/podman/venv"
  python3 -m venv .data/podman/venv
  .data/podman/venv/bin/pip install -q "podman-compose==$COMPOSE_VERSION"
fi
# No default ulimits: this machine kind refuses to raise them in a container.
cat >.data/podman/containers.conf <<'CONF'
[containers]
default_ulimits = []
CONF
