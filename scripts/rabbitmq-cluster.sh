#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, beside the single broker of
# scripts/rabbitmq.sh (which it leaves alone): nodes erpc1..3@localhost,
# AMQP on 127.0.0.1:5681..5683, data under /var/lib/rabbitmq/erp-cluster.
# Quorum queues declared on it replicate over the three nodes.
#
#   scripts/rabbitmq-cluster.sh up       # idempotent; prints the URL list
#   scripts/rabbitmq-cluster.sh stop N   # stops node N's broker (stop_app)
#   scripts/rabbitmq-cluster.sh start N  # starts it again (start_app)
#   scripts/rabbitmq-cluster.sh status
#   scripts/rabbitmq-cluster.sh down     # stops the three nodes
#
# Needs root (or sudo), and the Debian package scripts/rabbitmq.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

BASE=/var/lib/rabbitmq/erp-cluster
NODES=(1 2 3)
node() { echo "erpc$1@localhost"; }
port() { echo $((5680 + $1)); }
urls() {
  local list=()
  for i in "${NODES[@]}"; do list+=("amqp://guest:guest@127.0.0.1:$(port "$i")/%2f"); done
  (IFS=,; echo "${list[*]}")
}

# Runs a RabbitMQ command as the rabbitmq user with node $1's environment.
as_node() {
  local i=$1; shift
  local dir="$BASE/erpc$i"
  as_root su rabbitmq -s /bin/sh -c "cd /var/lib/rabbitmq && \
    RABBITMQ_NODENAME=$(node "$i") \
    RABBITMQ_NODE_PORT=$(port "$i") \
    RABBITMQ_DIST_PORT=$((25680 + i)) \
    RABBITMQ_MNESIA_BASE=$dir/mnesia \
    RABBITMQ_LOG_BASE=$dir/log \
    RABBITMQ_PID_FILE=$dir/pid \
    RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins \
    RABBITMQ_ALLOW_INPUT=false \
    HOME=/var/lib/rabbitmq \
    $*"
}

ctl() { local i=$1; shift; as_node "$i" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$(node "$i")" "$@"; }

running() { ctl "$1" -q status >/dev/null 2>&1; }
app_running() { as_node "$1" /usr/lib/rabbitmq/bin/rabbitmq-diagnostics -n "$(node "$1")" -q check_running >/dev/null 2>&1; }

wait_for() {  # what, test…
  local what=$1; shift
  for _ in $(seq 1 90); do
    if "$@"; then return 0; fi
    sleep 1
  done
  echo "rabbitmq-cluster: $what did not happen" >&2
  return 1
}

up() {
  scripts/rabbitmq.sh >/dev/null
  for i in "${NODES[@]}"; do
    as_root mkdir -p "$BASE/erpc$i/mnesia" "$BASE/erpc$i/log"
    # No plugins: the management UI of the main broker owns :15672.
    echo "[]." | as_root tee "$BASE/erpc$i/enabled_plugins" >/dev/null
    as_root chown -R rabbitmq:rabbitmq "$BASE"
    if ! running "$i"; then
      echo "rabbitmq-cluster: starting $(node "$i") on :$(port "$i")"
      as_node "$i" /usr/lib/rabbitmq/bin/rabbitmq-server -detached >/dev/null 2>&1 || true
    fi
  done
  for i in "${NODES[@]}"; do wait_for "$(node "$i") up" running "$i"; done
  for i in 2 3; do
    if ! ctl "$i" -q cluster_status 2>/dev/null | grep -q "$(node 1)"; then
      echo "rabbitmq-cluster: joining $(node "$i") to $(node 1)"
      ctl "$i" -q stop_app >/dev/null 2>&1
      ctl "$i" -q reset >/dev/null 2>&1
      ctl "$i" -q join_cluster "$(node 1)" >/dev/null 2>&1
    fi
    ctl "$i" -q start_app >/dev/null 2>&1
  done
  for i in "${NODES[@]}"; do
    ctl "$i" -q start_app >/dev/null 2>&1
    wait_for "$(node "$i") app" app_running "$i"
  done
  ctl 1 -q enable_feature_flag all >/dev/null 2>&1 || true
  echo "rabbitmq-cluster: $(urls)"
}

case "${1:-up}" in
  up) up ;;
  urls) urls ;;
  stop) ctl "$2" -q stop_app ;;
  start) ctl "$2" -q start_app; wait_for "$(node "$2") app" app_running "$2" ;;
  status) for i in "${NODES[@]}"; do
            if app_running "$i"; then echo "$(node "$i") :$(port "$i") running"; else echo "$(node "$i") :$(port "$i") stopped"; fi
          done ;;
  down) for i in "${NODES[@]}"; do ctl "$i" -q shutdown >/dev/null 2>&1 || true; done ;;
  *) echo "usage: $0 up|urls|stop N|start N|status|down" >&2; exit 2 ;;
esac
