#!/usr/bin/env bash
# The whole test suite, as CI runs it on a fresh machine with only the Rust toolchain.
# Installs the system packages that the real-component tests need (when run as root
# and they are missing), then checks formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v prometheus >/dev/null 2>&1 || need_pkgs+=(prometheus)
# A real FIX engine for fix/tests/quickfix.rs: QuickFIX's C++ library and a compiler.
[ -e /usr/include/quickfix/Session.h ] || need_pkgs+=(libquickfix-dev)
command -v c++ >/dev/null 2>&1 || need_pkgs+=(g++)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "warning: missing ${need_pkgs[*]} and cannot install (not root or no apt-get)" >&2
  fi
fi

# The observability tests skip without prometheus/promtool; here they must run.
export BREAKWATER_REQUIRE_PROMETHEUS=1

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --release
# The pure crates once more in a debug build, where overflow checks are on: arithmetic
# that only wraps in release (and so passes there without testing anything) fails here.
cargo test --locked -p protocol -p risk-check -p sim-exchange -p fix
