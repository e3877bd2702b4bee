#!/usr/bin/env bash
# Installs Ansible from Debian when ansible-playbook is missing: Debian's `ansible` package is
# ansible-core plus the community collections, ansible.posix (its sysctl module) among them.
set -euo pipefail
command -v ansible-playbook >/dev/null && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends ansible >&2 ||
  { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends ansible >&2; }
