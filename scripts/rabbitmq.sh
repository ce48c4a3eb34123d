#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers on 127.0.0.1:5672 (guest/guest).
# Idempotent: installs Debian's rabbitmq-server only when missing and starts
# the broker only when it is not running. Needs root (or sudo) to install.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "rabbitmq: installing rabbitmq-server (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || true
  as_root apt-get install -y -qq rabbitmq-server >/dev/null
fi

# `ping` answers before the broker accepts connections; `check_running`
# answers only once the app is up.
if ! as_root rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "rabbitmq: starting the broker"
  # The Debian package does not start it; under systemd-less containers
  # start it detached ourselves.
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    if as_root rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
      break
    fi
    sleep 1
  done
fi

if ! as_root rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "rabbitmq: the broker did not start" >&2
  exit 1
fi
# Quorum queues need the feature flag; enabling it again is harmless.
as_root rabbitmqctl -q enable_feature_flag all >/dev/null 2>&1 || true
# The management UI and HTTP API on :15672, to look at queues and the DLQ
# (guest/guest from localhost). Enabling it again is a no-op.
as_root rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 || true
echo "rabbitmq: running on 127.0.0.1:5672 (management on 127.0.0.1:15672)"
