#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy on the host workspace and on
# both guest workspaces (wasm32-wasip2, and the examples' lean builds for
# wasm32-unknown-unknown), then every test. The guest components are
# built once, by the zato-test-artifacts build script.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins the toolchain and the wasm targets; make sure they are there
# even when rustup did not install them on first use.
rustup target add wasm32-wasip2 wasm32-unknown-unknown >/dev/null 2>&1 || true

echo "== services"
# The tests talk to this machine's real Redis, PostgreSQL and MariaDB: start any that is
# down (each test then makes its own database or key prefix).
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "$what did not come up" >&2; return 1
}
if ! command -v redis-server >/dev/null; then
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 \
  || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
wait_for "Redis" redis-cli -h 127.0.0.1 -p 6379 ping
pg_isready -h 127.0.0.1 -p 5432 -q \
  || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
wait_for "PostgreSQL" pg_isready -h 127.0.0.1 -p 5432 -q
mysqladmin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 \
  || start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
wait_for "MariaDB" mysqladmin -h 127.0.0.1 -uroot ping

echo "== formatting"
cargo fmt --all -- --check
cargo fmt --manifest-path examples/Cargo.toml --all -- --check
cargo fmt --manifest-path tests/guests/Cargo.toml --all -- --check

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --manifest-path examples/Cargo.toml --target wasm32-wasip2 --all-targets --locked -- -D warnings
cargo clippy --manifest-path examples/Cargo.toml --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
cargo clippy --manifest-path tests/guests/Cargo.toml --target wasm32-wasip2 --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked
cargo test --manifest-path examples/Cargo.toml --locked
