#!/usr/bin/env bash
# Fuzzes the server with cargo-fuzz (libFuzzer): each target in tests/fuzz/fuzz_targets
# runs FUZZ_SECONDS (default 600), one after another, with one job. Not run in CI: it
# needs a nightly toolchain and takes minutes per target.
#
#     tests/fuzz.sh                   every target
#     tests/fuzz.sh http_request      the ones named
#
# A run starts from the seeds in tests/fuzz/corpus/TARGET, kept small in the repository,
# and grows a copy of them in tests/fuzz/run/TARGET/corpus; what crashes lands in
# tests/fuzz/run/TARGET/artifacts. Both are ignored by git. To replay a finding:
#
#     cd tests/fuzz && ZATO_FUZZ_GUEST=... cargo +nightly fuzz run --fuzz-dir . TARGET FILE
#
# A finding is fixed with a regression test in the ordinary suite.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$repo/tests/fuzz"
seconds=${FUZZ_SECONDS:-600}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$fuzz/target}
all=(sio_validate component_check http_request host_imports)
targets=("${@:-${all[@]}}")

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install --locked cargo-fuzz
fi

# rust-toolchain.toml pins the toolchain the guest builds with; its wasm target may be
# missing on a fresh machine.
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true

# The guest that host_imports and http_request run, built with the project's toolchain.
(cd "$fuzz/guest" && cargo build --locked --release --target wasm32-wasip2 \
    --target-dir "$CARGO_TARGET_DIR/guest")
export ZATO_FUZZ_GUEST="$CARGO_TARGET_DIR/guest/wasm32-wasip2/release/fuzz_guest.wasm"

# `+nightly` wins over rust-toolchain.toml: libFuzzer's instrumentation needs nightly.
cd "$fuzz"
cargo +nightly fuzz build --fuzz-dir .

crashed=()
for target in "${targets[@]}"; do
    run="$fuzz/run/$target"
    mkdir -p "$run/corpus" "$run/artifacts"
    cp -n "$fuzz/corpus/$target"/* "$run/corpus/"
    before=$(ls "$run/artifacts" | wc -l)
    echo "== $target: ${seconds}s (log: $run/fuzz.log)"
    # Later flags win over cargo-fuzz's own: findings go to the run's directory. A call
    # gets 1 s (its nested invokes included), so 60 s means the process is stuck.
    status=0
    cargo +nightly fuzz run --fuzz-dir . "$target" "$run/corpus" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=60 \
        -artifact_prefix="$run/artifacts/" >"$run/fuzz.log" 2>&1 || status=$?
    executions=$(grep -oP 'stat::number_of_executed_units:\s*\K\d+' "$run/fuzz.log" || echo "?")
    per_second=$(grep -oP 'stat::average_exec_per_sec:\s*\K\d+' "$run/fuzz.log" || echo "?")
    corpus=$(ls "$run/corpus" | wc -l)
    found=$(($(ls "$run/artifacts" | wc -l) - before))
    if [[ $status -ne 0 || $found -gt 0 ]]; then
        crashed+=("$target")
        echo "$target: CRASH (exit $status, $found new in $run/artifacts)"
        grep -m1 -A12 -E '^(==[0-9]+==ERROR|thread .* panicked)' "$run/fuzz.log" || tail -20 "$run/fuzz.log"
    fi
    echo "$target: $executions executions ($per_second/s), corpus $corpus inputs, findings $found"
done

if [[ ${#crashed[@]} -gt 0 ]]; then
    echo "crashed: ${crashed[*]}"
    exit 1
fi
