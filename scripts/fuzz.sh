#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read untrusted bytes (fuzz/: cargo-fuzz, libFuzzer).
#
#   scripts/fuzz.sh setup                 install the nightly toolchain (minimal) and cargo-fuzz, if missing
#   scripts/fuzz.sh short                 every target for FUZZ_SHORT_SECONDS (10) seconds: the test command's step
#   scripts/fuzz.sh long SECONDS          every target for SECONDS seconds, one after another (a campaign)
#   scripts/fuzz.sh run TARGET SECONDS    one target
#
# Each run starts from the committed seeds (fuzz/seeds/TARGET) and the scratch corpus it grows
# (fuzz/corpus/TARGET, ignored by git), with a dictionary (fuzz/dicts/) for the text targets, and prints the executions of each target and their total.
# A crash, a timeout (FUZZ_TIMEOUT, 10 s for one input) or memory past FUZZ_RSS_MB (2048) fails
# the script; libFuzzer leaves the input in fuzz/artifacts/TARGET/ (replay it with
# `cargo +nightly fuzz run -s none TARGET fuzz/artifacts/TARGET/<file>`).
#
# One fuzzer process at a time, at `nice -n 19` (FUZZ_NICE): the machine is shared. The targets
# are built without a sanitizer (`-s none`): the code under test is safe Rust, the properties are
# panics, overflows (debug assertions are on), time and memory, and AddressSanitizer would halve
# the executions. FUZZ_SANITIZER=address builds with it.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
SANITIZER=${FUZZ_SANITIZER:-none}
NICE=${FUZZ_NICE:-19}
TARGETS=(form_decode jws request_object json_patch certificate dn consents payments webauthn)

log() { printf '[fuzz] %s\n' "$*" >&2; }

setup() {
  # cargo-fuzz passes -Z flags to rustc: it needs a nightly toolchain (the minimal profile is enough).
  if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    log "installing the $TOOLCHAIN toolchain (minimal profile)"
    rustup toolchain install "$TOOLCHAIN" --profile minimal
  fi
  if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked
  fi
}

build() {
  log "building the targets (nightly, sanitizer: $SANITIZER, debug assertions on)"
  local t0=$SECONDS
  nice -n "$NICE" cargo "+$TOOLCHAIN" fuzz build -s "$SANITIZER" >&2
  log "built in $((SECONDS - t0)) s"
}

TOTAL=0
SUMMARY=()

# run TARGET SECONDS: one bounded libFuzzer run; adds its executions to TOTAL; returns non-zero on a finding.
run() {
  local target=$1 secs=$2
  local corpus=fuzz/corpus/$target seeds=fuzz/seeds/$target artifacts=fuzz/artifacts/$target
  local out
  mkdir -p "$corpus" "$artifacts" fuzz/logs
  out=fuzz/logs/$target.log
  # A dictionary of the input's syntax, boundary integers and multi-byte characters, where one helps.
  local dict=()
  case "$target" in
    json_patch | consents | payments | request_object) dict=(-dict=fuzz/dicts/json.dict) ;;
    form_decode) dict=(-dict=fuzz/dicts/form_decode.dict) ;;
    dn) dict=(-dict=fuzz/dicts/dn.dict) ;;
  esac
  local rc=0
  nice -n "$NICE" cargo "+$TOOLCHAIN" fuzz run -s "$SANITIZER" "$target" "$corpus" "$seeds" -- "${dict[@]}" \
    -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$out" 2>&1 || rc=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out" | tail -1)
  execs=${execs:-0}
  TOTAL=$((TOTAL + execs))
  local cov
  cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 || true)
  SUMMARY+=("$(printf '%-16s %12s executions  %s  corpus %s' "$target" "$execs" "${cov:-cov: ?}" "$(find "$corpus" -type f | wc -l)")")
  printf '[fuzz] %-16s %12s executions in %ss (%s)\n' "$target" "$execs" "$secs" "${cov:-cov: ?}" >&2
  if [ "$rc" != 0 ]; then
    log "FAILED: $target (exit $rc); the end of its log ($out):"
    grep -v '^#[0-9]' "$out" | tail -40 >&2
    log "the input is in $artifacts/:"
    ls -t "$artifacts" | head -3 >&2
    return 1
  fi
}

report() {
  log "executions per target:"
  printf '  %s\n' "${SUMMARY[@]}" >&2
  log "total: $TOTAL executions"
}

all() {
  local secs=$1 failed=0
  build
  for t in "${TARGETS[@]}"; do
    run "$t" "$secs" || failed=1
  done
  report
  [ "$failed" = 0 ] || { log "a target failed"; exit 1; }
}

case "${1:-}" in
  setup) setup ;;
  short) setup; all "${FUZZ_SHORT_SECONDS:-10}" ;;
  long) setup; all "${2:?usage: scripts/fuzz.sh long SECONDS}" ;;
  run)
    setup; build
    run "${2:?usage: scripts/fuzz.sh run TARGET SECONDS}" "${3:?usage: scripts/fuzz.sh run TARGET SECONDS}" || { report; exit 1; }
    report ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
