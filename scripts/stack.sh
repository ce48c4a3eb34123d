#!/usr/bin/env bash
# The production shape on this machine: RabbitMQ, the MongoDB-wire test
# server, an SMTP server (scripts/smtp-sink.sh: mails stored in .data/mail)
# and the four release binaries as separate processes, each service in its
# own database.
#
#   scripts/stack.sh up      start what is not running, wait until all are ready
#   scripts/stack.sh down    stop what `up` started (services, and the broker,
#                            database and SMTP server if `up` started them)
#   scripts/stack.sh status  what runs, and each service's readiness
#
# Logs (JSON) and pids live under .data/stack/. The services take their
# defaults (flags of the design); ERP_API_TOKEN and the other ERP_* variables
# pass through to them; notification-svc mails ERP_MAIL_TO (default
# ops@localhost) through the SMTP server on 127.0.0.1:2525.
set -euo pipefail
cd "$(dirname "$0")/.."

STACK="$PWD/.data/stack"
mkdir -p "$STACK"
SERVICES=(inventory-svc purchase-svc sales-svc notification-svc)
export ERP_MAIL_TO="${ERP_MAIL_TO:-ops@localhost}"

ready_url() {
  case "$1" in
    purchase-svc) echo "http://127.0.0.1:8081/health/ready" ;;
    sales-svc) echo "http://127.0.0.1:8082/health/ready" ;;
    inventory-svc) echo "http://127.0.0.1:8083/health/ready" ;;
    notification-svc) echo "http://127.0.0.1:8084/health/ready" ;;
  esac
}

running() { [ -f "$STACK/$1.pid" ] && kill -0 "$(cat "$STACK/$1.pid")" 2>/dev/null; }

amqp_answers() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
mongo_answers() { (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null; }
smtp_answers() { (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null; }

wait_ready() {
  local svc=$1 url
  url=$(ready_url "$svc")
  for _ in $(seq 1 240); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if ! running "$svc"; then
      echo "stack: $svc exited; see $STACK/$svc.log" >&2
      tail -5 "$STACK/$svc.log" >&2 || true
      return 1
    fi
    sleep 0.25
  done
  echo "stack: $svc not ready after 60 s; see $STACK/$svc.log" >&2
  return 1
}

up() {
  if ! amqp_answers; then
    scripts/rabbitmq.sh
    touch "$STACK/started-rabbitmq"
  fi
  if ! mongo_answers; then
    scripts/mongodb.sh
    touch "$STACK/started-mongodb"
  fi
  if ! smtp_answers; then
    scripts/smtp-sink.sh up
    touch "$STACK/started-smtp-sink"
  fi
  cargo build --release --locked -p inventory-svc -p purchase-svc -p sales-svc -p notification-svc
  for svc in "${SERVICES[@]}"; do
    if running "$svc"; then
      echo "stack: $svc already running (pid $(cat "$STACK/$svc.pid"))"
    else
      nohup "target/release/$svc" --log-format json >"$STACK/$svc.log" 2>&1 &
      echo $! >"$STACK/$svc.pid"
    fi
    # Inventory first: the others check products and stock with it.
    wait_ready "$svc"
  done
  cat <<EOF
stack: up
  purchase-svc   http://127.0.0.1:8081  (openapi: /openapi.json, metrics: /metrics)
  sales-svc      http://127.0.0.1:8082
  inventory-svc  http://127.0.0.1:8083  gRPC 127.0.0.1:50051
  notification-svc http://127.0.0.1:8084 (health, metrics) mails to $ERP_MAIL_TO
  SMTP server    smtp://127.0.0.1:2525  (mails stored in .data/mail)
  RabbitMQ       amqp://127.0.0.1:5672  management http://127.0.0.1:15672 (guest/guest)
  database       mongodb://127.0.0.1:27017  (databases purchase, sales, inventory, notification)
  logs           $STACK/*.log
EOF
}

down() {
  for svc in "${SERVICES[@]}"; do
    if running "$svc"; then
      kill "$(cat "$STACK/$svc.pid")"
      for _ in $(seq 1 40); do running "$svc" || break; sleep 0.25; done
      running "$svc" && kill -9 "$(cat "$STACK/$svc.pid")"
      echo "stack: stopped $svc"
    fi
    rm -f "$STACK/$svc.pid"
  done
  if [ -f "$STACK/started-mongodb" ]; then
    if [ -f .data/mongo-server.pid ] && kill "$(cat .data/mongo-server.pid)" 2>/dev/null; then
      echo "stack: stopped the database"
    fi
    rm -f "$STACK/started-mongodb"
  fi
  if [ -f "$STACK/started-smtp-sink" ]; then
    scripts/smtp-sink.sh down
    rm -f "$STACK/started-smtp-sink"
  fi
  if [ -f "$STACK/started-rabbitmq" ]; then
    rabbitmqctl stop >/dev/null 2>&1 && echo "stack: stopped RabbitMQ"
    rm -f "$STACK/started-rabbitmq"
  fi
}

status() {
  amqp_answers && echo "RabbitMQ   up" || echo "RabbitMQ   down"
  mongo_answers && echo "database   up" || echo "database   down"
  smtp_answers && echo "SMTP       up" || echo "SMTP       down"
  for svc in "${SERVICES[@]}"; do
    if running "$svc"; then
      code=$(curl -s -o /dev/null -w '%{http_code}' "$(ready_url "$svc")" || true)
      echo "$svc  pid $(cat "$STACK/$svc.pid"), ready: $code"
    else
      echo "$svc  not running"
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/stack.sh up|down|status" >&2; exit 2 ;;
esac
