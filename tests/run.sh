#!/usr/bin/env bash
# `npm test`: unit tests, then the integration suite through the real Pulumi engine on lab hosts.
# Ends with the line "N passed, N failed". Pass mocha file globs to run a subset.
set -euo pipefail
cd "$(dirname "$0")/.."

# A run that stops before its tests report still ends with the closing line CI reads.
reported=
on_exit() {
  if [[ -n "${PLT_LAB_ROOT:-}" ]]; then
    bash tests/lab/lab.sh down-all >/dev/null 2>&1 || true
    rm -rf "$PLT_LAB_ROOT"
  fi
  [[ -n "$reported" ]] || { echo; echo "0 passed, 1 failed"; }
}
trap on_exit EXIT

if [[ $EUID -ne 0 ]]; then
  echo "npm test needs root: the lab creates network namespaces and runs sshd in them" >&2
  exit 1
fi

# `npm test` on a fresh clone, without the `npm ci` of the run command first.
[[ -d node_modules ]] || npm ci --no-audit --no-fund
toolchain_bin="$(bash scripts/pulumi-toolchain.sh | tail -n 1)"
export PATH="$toolchain_bin:$PATH"
npm run --silent build
# The dynamic provider loads this package by name; make the name resolve to this checkout.
ln -sfn .. node_modules/pulumi-linux-tuning

# Labs of this run live under their own root, so cleanup never touches another run's lab.
PLT_LAB_ROOT="$(mktemp -d /tmp/plt-labs.XXXXXX)"
export PLT_LAB_ROOT
# The Debian packages the tests use, unit tests too (ssh-keygen, sysctl), before any of them runs.
bash tests/lab/lab.sh packages

run_mocha() {
  TS_NODE_PROJECT=tests/tsconfig.json npx mocha --require ts-node/register --reporter tests/support/reporter.js \
    --timeout 600000 "$@"
}

if [[ $# -gt 0 ]]; then
  reported=1
  run_mocha "$@"
  exit
fi

# The unit tests in one process; each integration file in its own, so one file's engine runs,
# gRPC servers and SSH pools never outlive it. The counts are summed into the one closing line.
passed=0 failed=0 skipped=0 status=0
for group in 'tests/unit/**/*.test.ts' tests/integration/*.test.ts; do
  log="$(mktemp)"
  run_mocha "$group" | tee "$log" || status=1
  if counts="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)" && [[ -n "$counts" ]]; then
    passed=$((passed + $(cut -d' ' -f1 <<<"$counts")))
    failed=$((failed + $(cut -d' ' -f3 <<<"$counts")))
    skipped=$((skipped + $(sed -nE 's/.*, ([0-9]+) skipped$/\1/p' <<<"$counts" | grep . || echo 0)))
  else
    echo "[test] $group ended without a result line" >&2
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
reported=1
echo
# A test this machine cannot run skips itself (marked "-" above): said here, so a green line hides none.
[[ $skipped -eq 0 ]] || echo "[test] $skipped skipped: this machine lacks what they need (each is marked - in its file's output)"
echo "$passed passed, $failed failed"
[[ $status -eq 0 && $failed -eq 0 ]]
