#!/usr/bin/env bash
# Runs every test of the workspace, after installing the Debian packages the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
cargo test --workspace --locked "$@"
