#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database, offline: the snapshot the team keeps
# in ../shared/advisory-db (see its README). Fails on any vulnerability. Installs cargo-audit
# from crates.io (pinned by its own lock file) the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

db=${ADVISORY_DB:-../shared/advisory-db}
if [ ! -d "$db/crates" ]; then
  echo "no advisory database at $db (set ADVISORY_DB to one)" >&2
  exit 1
fi
if ! cargo audit --version >/dev/null 2>&1; then
  echo "Installing cargo-audit (once; it takes a few minutes) ..." >&2
  cargo install cargo-audit --locked --quiet
fi
cargo audit --no-fetch --db "$db" --deny unsound
