#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy on the host workspace and on
# both guest workspaces (wasm32-wasip2), then every test. The guest components are
# built once, by the zato-test-artifacts build script.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins the toolchain and the wasm32-wasip2 target; make sure the
# target is there even when rustup did not install it on first use.
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true

echo "== formatting"
cargo fmt --all -- --check
cargo fmt --manifest-path examples/Cargo.toml --all -- --check
cargo fmt --manifest-path tests/guests/Cargo.toml --all -- --check

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --manifest-path examples/Cargo.toml --target wasm32-wasip2 --all-targets --locked -- -D warnings
cargo clippy --manifest-path tests/guests/Cargo.toml --target wasm32-wasip2 --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked
cargo test --manifest-path examples/Cargo.toml --locked
