#!/usr/bin/env bash
# `npm test`: unit tests, then the integration suite through the real Pulumi engine on lab hosts.
# Ends with the line "N passed, N failed". Pass mocha file globs to run a subset.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
  echo "npm test needs root: the lab creates network namespaces and runs sshd in them" >&2
  exit 1
fi

toolchain_bin="$(bash scripts/pulumi-toolchain.sh | tail -n 1)"
export PATH="$toolchain_bin:$PATH"
npm run --silent build
# The dynamic provider loads this package by name; make the name resolve to this checkout.
ln -sfn .. node_modules/pulumi-linux-tuning

# Labs of this run live under their own root, so cleanup never touches another run's lab.
export PLT_LAB_ROOT="$(mktemp -d /tmp/plt-labs.XXXXXX)"
trap 'bash tests/lab/lab.sh down-all >/dev/null 2>&1 || true; rm -rf "$PLT_LAB_ROOT"' EXIT

if [[ $# -eq 0 ]]; then
  set -- 'tests/unit/**/*.test.ts' 'tests/integration/**/*.test.ts'
fi
TS_NODE_PROJECT=tests/tsconfig.json npx mocha --require ts-node/register --reporter tests/support/reporter.js \
  --timeout 600000 "$@"
