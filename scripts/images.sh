#!/usr/bin/env bash
# Builds the three service images here with podman, no registry needed:
# static musl release binaries packaged FROM scratch (deploy/Containerfile),
# each running as a non-root user with its readiness probe as healthcheck.
# Tags: localhost/erp/<service>:<crate version> and :<git commit>.
#
#   scripts/images.sh          build (installs podman and the musl target once)
#
# Prints each image's size.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/podman.sh
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh

TARGET=x86_64-unknown-linux-musl
echo "images: building static binaries ($TARGET, release)"
cargo build --release --locked --target "$TARGET" --all-features --bins \
  -p purchase-svc -p sales-svc -p inventory-svc -p erp-probe

VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
for entry in purchase-svc:8081 sales-svc:8082 inventory-svc:8083; do
  service=${entry%%:*}; port=${entry##*:}
  context=.data/images/$service
  rm -rf "$context"; mkdir -p "$context"
  cp "target/$TARGET/release/$service" "target/$TARGET/release/erp-probe" "$context/"
  # Symbols are most of a static binary's size and serve no one in an image
  # (panics still name their location; backtraces lose function names).
  strip "$context/$service" "$context/erp-probe"
  "${PODMAN[@]}" build --quiet --format docker \
    --build-arg SERVICE="$service" --build-arg PORT="$port" \
    --label org.opencontainers.image.title="$service" \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.revision="$COMMIT" \
    -t "localhost/erp/$service:$VERSION" -t "localhost/erp/$service:$COMMIT" \
    -f deploy/Containerfile "$context" >/dev/null
  size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "localhost/erp/$service:$VERSION")
  printf 'images: localhost/erp/%s:%s (%s) %s bytes (%s MB)\n' "$service" "$VERSION" "$COMMIT" \
    "$size" "$(echo "scale=1; $size / 1000000" | bc)"
done
