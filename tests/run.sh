#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy on both guest workspaces
# (wasm32-wasip2, and the examples' lean builds for wasm32-unknown-unknown), then
# every test, built once with clippy linting the host workspace on the way. The
# guest components are built once, by the zato-test-artifacts build script.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins the toolchain and the wasm targets; make sure they are there
# even when rustup did not install them on first use.
rustup target add wasm32-wasip2 wasm32-unknown-unknown >/dev/null 2>&1 || true

# cargo-deny (the supply-chain check, below) is built once per machine: in the
# background while the services and packages below install, which mostly wait on the
# network and disks; without LTO and at opt-level 1, since it only reads lock files (the
# release profile's whole-program optimisation cost a clean run three minutes).
deny_build=""
deny_log="$(mktemp)"
if ! command -v cargo-deny >/dev/null; then
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install --locked --quiet cargo-deny@0.20.2 >"$deny_log" 2>&1 &
  deny_build=$!
fi

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
# The AMQP tests (tests/all/amqp.rs) use RabbitMQ as guest/guest, a vhost per test;
# the one that restarts it (stop_app, start_app) leaves its node running.
command -v rabbitmqctl >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq rabbitmq-server; }
rabbitmqctl status >/dev/null 2>&1 || rabbitmq-server -detached >/dev/null 2>&1 || true
rabbitmqctl await_startup >/dev/null 2>&1 || rabbitmqctl start_app >/dev/null 2>&1 || true
wait_for "RabbitMQ" rabbitmqctl await_startup
# The admin API's contract test (tests/all/openapi.rs) runs schemathesis, pinned.
schemathesis --version 2>/dev/null | grep -q '4\.32\.5' \
  || python3 -m pip install -q 'schemathesis==4.32.5'
# The outgoing FTP tests (tests/all/outgoing_ftp.rs) start pyftpdlib, pinned.
python3 -c 'import pyftpdlib, sys; sys.exit(pyftpdlib.__ver__ != "2.0.1")' 2>/dev/null \
  || python3 -m pip install -q 'pyftpdlib==2.0.1'
# ... and its FTPS handler, which needs pyOpenSSL, pinned.
python3 -c 'import sys, OpenSSL; sys.exit(OpenSSL.__version__ != "25.3.0")' 2>/dev/null \
  || python3 -m pip install -q 'pyOpenSSL==25.3.0'
# The SOAP channel test (tests/all/soap_channel.rs) calls our WSDL with zeep, pinned.
python3 -c 'import sys, zeep; sys.exit(zeep.__version__ != "4.3.3")' 2>/dev/null \
  || python3 -m pip install -q 'zeep==4.3.3'
# The ZeroMQ tests (tests/all/zeromq.rs) talk to pyzmq peers (libzmq), pinned.
python3 -c 'import sys, zmq; sys.exit(zmq.__version__ != "26.4.0")' 2>/dev/null \
  || python3 -m pip install -q 'pyzmq==26.4.0'

# The metrics test (tests/all/metrics.rs) reads /metrics with Prometheus's own Python
# client's OpenMetrics parser, pinned.
python3 -c 'import sys, importlib.metadata as m; sys.exit(m.version("prometheus-client") != "0.26.0")' 2>/dev/null \
  || python3 -m pip install -q 'prometheus-client==0.26.0'

# The traces test (tests/all/traces.rs) decodes OTLP with OpenTelemetry's own Python
# protobuf classes, pinned.
python3 -c 'import sys, importlib.metadata as m; sys.exit(m.version("opentelemetry-proto") != "1.45.2")' 2>/dev/null \
  || python3 -m pip install -q 'opentelemetry-proto==1.45.2'

# Python services (tests/all/python.rs, examples/python): `zato build` runs
# componentize-py; the example's own tests run under pytest. Both pinned.
command -v componentize-py >/dev/null && componentize-py --version 2>/dev/null | grep -q '0\.25\.0' \
  || python3 -m pip install -q 'componentize-py==0.25.0'
python3 -c 'import sys, pytest; sys.exit(pytest.__version__ != "9.2.0")' 2>/dev/null \
  || python3 -m pip install -q 'pytest==9.2.0'

echo "== browser"
# The web admin's browser tests drive Debian's Chromium with playwright-core from npm
# (pinned in tests/browser/package-lock.json; never a browser download).
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
[[ -d tests/browser/node_modules/playwright-core ]] \
  || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund

# JavaScript services (tests/all/languages.rs, examples/js): componentize-js and the
# SDK (a link to sdk-js), pinned in examples/js/package-lock.json.
[[ -d examples/js/node_modules/@bytecodealliance/componentize-js ]] \
  || npm ci --prefix examples/js --no-audit --no-fund

echo "== formatting"
cargo fmt --all -- --check
cargo fmt --manifest-path examples/Cargo.toml --all -- --check
cargo fmt --manifest-path tests/guests/Cargo.toml --all -- --check

echo "== supply chain"
# cargo deny (deny.toml): known vulnerabilities, licences, duplicate versions, sources.
# cargo-deny was built in the background from the start (below); wait for it.
if [[ -n "${deny_build:-}" ]] && ! wait "$deny_build"; then
  cat "$deny_log" >&2
  echo "cargo install cargo-deny failed" >&2
  exit 1
fi
# The advisory database is fetched from GitHub; where GitHub cannot be reached, the copy
# on disk is used, and with no copy the other checks run and the log says so.
# Every crate of the lock file, those of other targets too: cargo deny reads them all.
for manifest in Cargo.toml examples/Cargo.toml tests/guests/Cargo.toml; do
  cargo fetch --locked --manifest-path "$manifest" >/dev/null
done
deny=(cargo deny)
checks=()
if ! timeout 120 cargo deny fetch db >/dev/null 2>&1; then
  deny=(cargo deny --offline)
  if compgen -G "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-*/crates" >/dev/null; then
    echo "the advisory database could not be updated: checking against the copy on disk"
  else
    echo "WARNING: advisories NOT checked: the advisory database cannot be fetched and there is no copy on disk"
    checks=(bans licenses sources)
  fi
fi
"${deny[@]}" check "${checks[@]}"
# The guest workspaces share the host's policy; its exceptions and licences need not
# all occur there.
for guests in examples/Cargo.toml tests/guests/Cargo.toml; do
  "${deny[@]}" --manifest-path "$guests" --config deny.toml check "${checks[@]}" \
    -A unmatched-skip -A license-not-encountered
done

echo "== clippy (guests)"
cargo clippy --manifest-path examples/Cargo.toml --target wasm32-wasip2 --all-targets --locked -- -D warnings
cargo clippy --manifest-path examples/Cargo.toml --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
cargo clippy --manifest-path tests/guests/Cargo.toml --target wasm32-wasip2 --all-targets --locked -- -D warnings

echo "== clippy and tests (host)"
# One build serves both: clippy-driver compiles the workspace's own crates, linting them
# as `cargo clippy --workspace --all-targets -- -D warnings` would (there are no bench
# or example targets, so the test build covers every target), and rustc compiles the
# dependencies once, for the tests, rather than once more in check mode for clippy.
# The guests' nested builds drop both variables (tests/artifacts/build.rs).
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export RUSTFLAGS="-D warnings"
cargo test --workspace --locked --no-fail-fast
unset RUSTC_WORKSPACE_WRAPPER RUSTFLAGS
cargo test --manifest-path examples/Cargo.toml --locked

echo "== the Python and JavaScript examples' own tests (pytest, node --test; no server)"
(cd examples/python && PYTHONPATH=../../sdk-python python3 -m pytest -q -p no:cacheprovider)
(cd examples/js && node --test)
