#!/usr/bin/env bash
# `npm run bench [-- sysctl|fleet|ansible|effect|programs]`: benchmarks on lab hosts (root). Not part of npm test.
#   sysctl (default): 16 sysctls on 4 hosts, provider vs per-key ssh vs the engine
#   fleet: the default fleet program at 5, 20, 50 hosts, one stack vs 4 shards in parallel
#   ansible: ours vs tuned and default Ansible at 5, 20, 50, 200 hosts (see bench/ansible.ts);
#            installs Debian's ansible package when ansible-playbook is missing
#   effect: what each profile changes, measured with the kernel's counters (see bench/effect.ts);
#           installs Debian's iperf3 and sockperf when missing
#   programs: the host CPU of one read by the remote programs, on plain files (see bench/remote-programs.ts)
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-sysctl}"
case "$which" in
  sysctl) script=bench/sysctl-apply.ts ;;
  fleet) script=bench/fleet-scale.ts ;;
  ansible)
    script=bench/ansible.ts
    bash bench/ansible/install.sh
    ;;
  effect)
    script=bench/effect.ts
    command -v iperf3 >/dev/null && command -v sockperf >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends iperf3 sockperf; }
    ;;
  programs) script=bench/remote-programs.ts ;;
  *) echo "usage: npm run bench [-- sysctl|fleet|ansible|effect|programs]" >&2; exit 2 ;;
esac
toolchain_bin="$(bash scripts/pulumi-toolchain.sh | tail -n 1)"
export PATH="$toolchain_bin:$PATH"
npm run --silent build
ln -sfn .. node_modules/pulumi-linux-tuning
PLT_LAB_ROOT="$(mktemp -d /tmp/plt-bench.XXXXXX)"
export PLT_LAB_ROOT
trap 'bash tests/lab/lab.sh down-all >/dev/null 2>&1 || true; rm -rf "$PLT_LAB_ROOT"' EXIT
TS_NODE_PROJECT=tests/tsconfig.json npx ts-node "$script"
