#!/usr/bin/env bash
# `npm run demo`: brings up two lab hosts, runs examples/sysctl-basic through the real Pulumi
# engine (up, preview, drift, converge, destroy), and tears the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
  echo "npm run demo needs root: the lab creates network namespaces and runs sshd in them" >&2
  exit 1
fi
toolchain_bin="$(bash scripts/pulumi-toolchain.sh | tail -n 1)"
export PATH="$toolchain_bin:$PATH"
npm run --silent build
ln -sfn .. node_modules/pulumi-linux-tuning
PLT_LAB_ROOT="$(mktemp -d /tmp/plt-demo.XXXXXX)"
export PLT_LAB_ROOT
trap 'bash tests/lab/lab.sh down-all >/dev/null 2>&1 || true; rm -rf "$PLT_LAB_ROOT"' EXIT
lab_json="$(bash tests/lab/lab.sh up 2 | tail -n 1)"
TS_NODE_PROJECT=tests/tsconfig.json npx ts-node examples/demo.ts "$lab_json"
