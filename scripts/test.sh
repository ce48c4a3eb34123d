#!/usr/bin/env bash
# The whole test suite, from a fresh clone. Idempotent: safe to run again.
#
# Provisioning: a real RabbitMQ (Debian package), a real MongoDB-wire
# server (mongo-java-server with its H2 file backend, from Maven Central; see
# scripts/mongodb.sh), Jaeger v2 (built from its Go module) and an SMTP
# server (Python's aiosmtpd, pinned), each
# installed and started only when missing. The adapter tests run with --all-features and
# fail, never skip, when a server cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/rabbitmq.sh
scripts/rabbitmq-cluster.sh up
scripts/mongodb.sh
scripts/promtool.sh
# An OpenTelemetry backend for examples/tests/traces.rs (built once, cached).
scripts/jaeger.sh
# A real SMTP server for notification-svc's tests (aiosmtpd, pinned; the
# tests start and stop their own from this venv).
scripts/smtp-sink.sh install

# Plain output in CI logs.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# The service binaries first: the fault suite (examples/tests/faults.rs)
# runs them as separate processes.
cargo build --workspace --bins --all-features --locked
cargo test --workspace --all-features --locked

# The published OpenAPI documents, property-tested by schemathesis (pinned,
# installed once) against a freshly started all-in-one.
scripts/schemathesis.sh

# The SDK from outside: docs/guide.md's finished service, built and tested
# from a copy outside the repository with path dependencies only.
scripts/guide-test.sh

# The five library crates stay publishable: each packaged and built from its
# package (dependents against the packages just made, not the tree).
cargo package --locked -p erp-core -p erp-store -p erp-bus -p erp-resilience -p erp-service

# Their public API as checked in (public-api/*.txt): a change is deliberate.
scripts/public-api.sh

# Advisories, licenses, sources, bans of the dependency tree.
scripts/supply-chain.sh

# The examples of each library crate must keep running, not only compiling.
for example in domain bus store grpc resilience; do
  cargo run --quiet --locked -p erp-examples --example "$example" >/dev/null
done

# The embedded default end to end, exactly as the README runs it.
cargo run --quiet --locked -p erp-examples --bin all-in-one -- --demo

# The console in headless Chromium (Debian's chromium and a pinned
# playwright-core, installed when missing): a purchase through its form, the
# stock and events appearing live, the API explorer; a screenshot.
scripts/console-test.sh

# The container images: built here with podman (installed like the other
# servers), run against this machine's RabbitMQ and database, a purchase
# and a sale through them; sizes, non-root user, health checks, compose.yaml.
scripts/images-test.sh
