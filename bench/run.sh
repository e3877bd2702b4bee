#!/usr/bin/env bash
# `npm run bench [-- sysctl|fleet]`: benchmarks on lab hosts (root). Not part of npm test.
#   sysctl (default): 16 sysctls on 4 hosts, provider vs per-key ssh vs the engine
#   fleet: the default fleet program at 5, 20, 50 hosts, one stack vs 4 shards in parallel
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-sysctl}"
case "$which" in
  sysctl) script=bench/sysctl-apply.ts ;;
  fleet) script=bench/fleet-scale.ts ;;
  *) echo "usage: npm run bench [-- sysctl|fleet]" >&2; exit 2 ;;
esac
export PATH="$(bash scripts/pulumi-toolchain.sh | tail -n 1):$PATH"
npm run --silent build
ln -sfn .. node_modules/pulumi-linux-tuning
export PLT_LAB_ROOT="$(mktemp -d /tmp/plt-bench.XXXXXX)"
trap 'bash tests/lab/lab.sh down-all >/dev/null 2>&1 || true; rm -rf "$PLT_LAB_ROOT"' EXIT
TS_NODE_PROJECT=tests/tsconfig.json npx ts-node "$script"
