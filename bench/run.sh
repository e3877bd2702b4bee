#!/usr/bin/env bash
# `npm run bench`: benchmarks on lab hosts (root). Not part of npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(bash scripts/pulumi-toolchain.sh | tail -n 1):$PATH"
npm run --silent build
ln -sfn .. node_modules/pulumi-linux-tuning
export PLT_LAB_ROOT="$(mktemp -d /tmp/plt-bench.XXXXXX)"
trap 'bash tests/lab/lab.sh down-all >/dev/null 2>&1 || true; rm -rf "$PLT_LAB_ROOT"' EXIT
TS_NODE_PROJECT=tests/tsconfig.json npx ts-node bench/sysctl-apply.ts
