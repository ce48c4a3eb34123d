#!/usr/bin/env bash
# The three service images (scripts/images.sh) as containers on the host
# network, against the RabbitMQ and database server on this host
# (scripts/rabbitmq.sh, scripts/mongodb.sh), on the services' default ports.
#
#   scripts/containers.sh up       start them (building the images if missing), wait until healthy
#   scripts/containers.sh status   each container's state and health
#   scripts/containers.sh down     stop and remove them
#
# Stop scripts/stack.sh first: both want the same ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/podman.sh >/dev/null
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
SERVICES=(inventory-svc purchase-svc sales-svc)

case "${1:-}" in
  up)
    for service in "${SERVICES[@]}"; do
      if ! "${PODMAN[@]}" image exists "localhost/erp/$service:$VERSION"; then
        scripts/images.sh
        break
      fi
    done
    for service in "${SERVICES[@]}"; do
      "${PODMAN[@]}" rm -f -t 2 "erp-$service" >/dev/null 2>&1 || true
      # stderr: podman cannot schedule health checks without systemd here.
      "${PODMAN[@]}" run -d --name "erp-$service" --network host \
        "localhost/erp/$service:$VERSION" >/dev/null 2>&1
    done
    for service in "${SERVICES[@]}"; do
      for _ in $(seq 1 120); do
        "${PODMAN[@]}" healthcheck run "erp-$service" >/dev/null 2>&1 && break
        sleep 0.5
      done
      "${PODMAN[@]}" healthcheck run "erp-$service" >/dev/null 2>&1 \
        || { "${PODMAN[@]}" logs "erp-$service" | tail -20; echo "containers: erp-$service is not healthy" >&2; exit 1; }
    done
    echo "containers: purchase http://127.0.0.1:8081  sales http://127.0.0.1:8082  inventory http://127.0.0.1:8083 (gRPC :50051)"
    ;;
  status)
    "${PODMAN[@]}" ps -a --filter name=erp- --format '{{.Names}}\t{{.Status}}\t{{.Image}}'
    ;;
  down)
    for service in "${SERVICES[@]}"; do
      "${PODMAN[@]}" rm -f -t 10 "erp-$service" >/dev/null 2>&1 || true
    done
    echo "containers: removed"
    ;;
  *)
    echo "usage: scripts/containers.sh up|status|down" >&2
    exit 2
    ;;
esac
