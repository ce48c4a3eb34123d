#!/usr/bin/env bash
# The container images, tested for real (part of scripts/test.sh): builds
# them (scripts/images.sh), runs the three as containers on the host network
# against this machine's RabbitMQ and database server, and checks from
# outside that
#   - each image is under 40 MB and runs as a non-root user;
#   - the containers become healthy by their own probe;
#   - a purchase through them moves stock (HTTP → gRPC → outbox → AMQP →
#     inventory), and a sale checks it over REST;
#   - compose.yaml is valid (`podman-compose config`).
# Ports and database names are the test's own; containers are removed at
# the end whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/images.sh
# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh

fail() { echo "images-test: FAIL: $*" >&2; exit 1; }
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
RUN_ID=$(date +%s)-$$
MAX_BYTES=40000000

for service in purchase-svc sales-svc inventory-svc; do
  image="localhost/erp/$service:$VERSION"
  size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$image")
  user=$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$image")
  [ "$size" -lt "$MAX_BYTES" ] || fail "$image is $size bytes (limit $MAX_BYTES)"
  case "$user" in ""|0|0:*|root|root:*) fail "$image runs as '$user'" ;; esac
  echo "images-test: $image: $size bytes, user $user"
done

NAMES=()
cleanup() {
  for name in "${NAMES[@]}"; do
    "${PODMAN[@]}" rm -f -t 2 "$name" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

run() { # name, image, then env assignments
  local name=$1 image=$2; shift 2
  local env=()
  for kv in "$@"; do env+=(-e "$kv"); done
  NAMES+=("$name")
  # Podman says on stderr that it cannot schedule health checks without
  # systemd (this machine kind has none); the test runs them itself.
  local said
  if ! said=$("${PODMAN[@]}" run -d --name "$name" --network host "${env[@]}" \
    -e ERP_DATABASE="images_${RUN_ID//-/_}_${name%%-*}" \
    "localhost/erp/$image:$VERSION" 2>&1 >/dev/null); then
    echo "$said" >&2
    fail "podman run $image"
  fi
}
INV=18083; GRPC=15051; PUR=18081; SAL=18082
run "inventory-$RUN_ID" inventory-svc ERP_HTTP_ADDR=127.0.0.1:$INV ERP_GRPC_ADDR=127.0.0.1:$GRPC
run "purchase-$RUN_ID" purchase-svc ERP_HTTP_ADDR=127.0.0.1:$PUR ERP_INVENTORY_GRPC=http://127.0.0.1:$GRPC
run "sales-$RUN_ID" sales-svc ERP_HTTP_ADDR=127.0.0.1:$SAL ERP_INVENTORY_URL=http://127.0.0.1:$INV

# Healthy by the image's own HEALTHCHECK (the probe inside the container).
for name in "${NAMES[@]}"; do
  healthy=""
  for _ in $(seq 1 60); do
    if "${PODMAN[@]}" healthcheck run "$name" >/dev/null 2>&1; then healthy=yes; break; fi
    sleep 0.5
  done
  [ -n "$healthy" ] || { "${PODMAN[@]}" logs "$name" 2>&1 | tail -20; fail "$name never became healthy"; }
  pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$name")
  uid=$(awk '/^Uid:/{print $2}' "/proc/$pid/status")
  [ "$uid" != 0 ] || fail "$name runs as root"
  echo "images-test: $name healthy, process uid $uid"
done

product="img-$RUN_ID"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$INV/products" \
  -H 'content-type: application/json' -d "{\"id\":\"$product\",\"name\":\"Bolt\",\"unit\":\"pcs\"}")
[ "$code" = 201 ] || fail "POST /products answered $code"
# A purchase or a sale of `product` (route, port, quantity): must be 201.
trade() {
  local route=$1 port=$2 quantity=$3 code
  code=$(curl -s -o "/tmp/images-test-$route.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port/$route" \
    -H 'content-type: application/json' -H "Idempotency-Key: $route-$product" \
    -d "{\"lines\":[{\"product_id\":\"$product\",\"quantity\":$quantity,\"unit_price\":2}]}")
  [ "$code" = 201 ] || fail "POST /$route answered $code: $(cat "/tmp/images-test-$route.json")"
}
# Waits (10 s at most) until inventory shows `want` of `product`.
wait_stock() {
  local want=$1 after=$2 on_hand=""
  for _ in $(seq 1 100); do
    on_hand=$(curl -s "http://127.0.0.1:$INV/stock/main/$product" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("on_hand",""))' 2>/dev/null || true)
    [ "$on_hand" = "$want" ] && break
    sleep 0.1
  done
  [ "$on_hand" = "$want" ] || fail "stock of $product is '$on_hand', not $want, after the $after"
  echo "images-test: $after through the containers moved stock to $on_hand"
}
trade purchases "$PUR" 7
wait_stock 7 purchase
trade sales "$SAL" 3
wait_stock 4 sale

"$PODMAN_COMPOSE" -f compose.yaml config >/dev/null || fail "compose.yaml: podman-compose config refused it"
echo "images-test: compose.yaml passes podman-compose config"
echo "images-test: ok"
