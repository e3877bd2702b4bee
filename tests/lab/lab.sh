#!/usr/bin/env bash
# A lab of N Linux "hosts": one network namespace per host, each running a real sshd inside
# its own private mount and PID namespaces, reachable from the root namespace over a veth /30,
# with emulated hardware (cpufreq, NIC rings/coalescing, queue IRQs; see hw.py).
#
#   lab.sh up N [--dir DIR] [--hw P1,P2,...]   bring up N hosts (1..60); last stdout line = lab.json
#   lab.sh down DIR_OR_JSON          tear one lab down (idempotent, works on half-built labs)
#   lab.sh down-all                  tear down every lab under the labs root
#   lab.sh exec DIR_OR_JSON hI -- CMD...   run CMD in host hI's net + mount + PID namespaces
#   lab.sh irqbalance DIR_OR_JSON hI [ARGS...]   start a real `irqbalance --foreground` in hI
#   lab.sh config DIR_OR_JSON [STACK]   write Pulumi.STACK.yaml (default lab) for the fleet program
#   lab.sh packages                  install the Debian packages the lab and the tests use, if missing
#
# --hw: one hardware profile per host, or one for all (server, vm, cluster, mlx5); default h1 server, others vm.
# Labs live under ${PLT_LAB_ROOT:-/tmp/plt-labs}/<id>. Progress goes to stderr.
# Set PLT_LAB_KEEP_FAILED=1 to leave a lab whose `up` failed in place for inspection.
set -euo pipefail

LAB_ROOT="$(realpath -m -- "${PLT_LAB_ROOT:-/tmp/plt-labs}")"
NET_PREFIX="10.239"
MAX_HOSTS=60
SSHD_WAIT_SECONDS=30

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() {
  sed -n '6,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# Accepts a lab dir or its lab.json; prints the absolute lab dir.
resolve_dir() {
  local p="$1"
  [[ "$p" == *.json ]] && p="$(dirname -- "$p")"
  p="$(realpath -m -- "$p")"
  [[ "$(basename -- "$p")" =~ ^[0-9a-f]{6}$ ]] || die "not a lab dir (basename must be a 6-hex lab id): $p"
  printf '%s\n' "$p"
}

# True if pid is alive and its command line mentions one of this host's lab files (sshd_config,
# boot.sh, boot-ns.sh, the hardware daemon), so a recycled pid is never signalled. h1's patterns
# never match h10's files: each ends in a name or a slash.
pid_is_lab_host() {
  local pid="$1" hdir="$2" cmd
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmd" == *"$hdir/sshd_config"* || "$cmd" == *"$hdir/boot.sh"* || "$cmd" == *"$hdir/boot-ns.sh"* ||
    "$cmd" == *"hw.py serve $hdir/"* ]]
}

# ---------------------------------------------------------------------------------------- down

# sshd is PID 1 of the host's PID namespace: when it ends, the kernel kills everything else in
# that namespace (irqbalance, sessions, `lab.sh exec` commands). The hardware daemon (hw.pid) runs
# outside it, in the host's netns, and unmounts its FUSE filesystem on SIGTERM.
stop_host_pids() {
  local hdir="$1" pid f i
  local -a pids=()
  for f in "$hdir/sshd.pid" "$hdir/launch.pid" "$hdir/hw.pid"; do
    [[ -r "$f" ]] || continue
    pid="$(tr -dc '0-9' <"$f")"
    pid_is_lab_host "$pid" "$hdir" && pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do pid_is_lab_host "$pid" "$hdir" && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if pid_is_lab_host "$pid" "$hdir"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

# Processes left inside a lab netns (open ssh sessions, whose per-connection sshd outlives the
# listener; anything started with `lab.sh exec`) would keep the namespace alive and hang their
# clients once the veth is gone. Each pid is re-checked to still be in this netns right before it
# is signalled, so a recycled pid is never hit.
stop_netns_pids() {
  local ns="$1" nsid pid sig i
  local -a pids
  nsid="net:[$(stat -L -c %i "/run/netns/$ns" 2>/dev/null)]" || return 0
  for sig in TERM TERM TERM KILL; do
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
    ((${#pids[@]})) || return 0
    for pid in "${pids[@]}"; do
      if [[ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" == "$nsid" ]]; then
        kill "-$sig" "$pid" 2>/dev/null || true
      fi
    done
    for ((i = 0; i < 10; i++)); do
      [[ -z "$(ip netns pids "$ns" 2>/dev/null)" ]] && return 0
      sleep 0.1
    done
  done
  log "warning: processes still in $ns after SIGKILL: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

# The bastion sshd a test started on 127.0.0.1 for this lab (tests/integration/lab.ts), if its
# process outlived the test: only an sshd run with this lab's bastion config.
stop_bastion() {
  local pidfile="$1/bastion/sshd.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat -- "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/bastion/sshd_config"; then
    kill "$pid" 2>/dev/null || true
  fi
}

lab_down() {
  local dir id hdir ns link
  dir="$(resolve_dir "$1")"
  id="$(basename -- "$dir")"
  log "down $id ($dir)"

  if [[ -d "$dir/hosts" ]]; then
    for hdir in "$dir"/hosts/h*; do
      [[ -d "$hdir" ]] && stop_host_pids "$hdir"
    done
  fi
  stop_bastion "$dir"

  # Namespaces and veths are found by name, so a lab whose lab.json was never written
  # (failed or interrupted `up`) is still cleaned up.
  for ns in $(ip netns list 2>/dev/null | awk -v p="plt-$id-h" 'index($1, p) == 1 {print $1}'); do
    stop_netns_pids "$ns"
    ip netns delete "$ns" 2>/dev/null || true
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' -v p="pv$id" '{sub(/@.*/, "", $2)} index($2, p) == 1 {print $2}'); do
    ip link delete "$link" 2>/dev/null || true
  done

  if [[ -d "$dir" ]]; then
    [[ -e "$dir/.plt-lab" || -z "$(ls -A -- "$dir")" ]] || die "refusing to remove $dir: no .plt-lab marker"
    rm -rf -- "$dir"
  fi
}

lab_down_all() {
  local d
  [[ -d "$LAB_ROOT" ]] || return 0
  for d in "$LAB_ROOT"/*; do
    [[ -d "$d" && "$(basename -- "$d")" =~ ^[0-9a-f]{6}$ ]] && lab_down "$d"
  done
  release_pltuser
  return 0
}

# With every lab of this root down, the machine loses the pltuser account and its sudo rule again,
# when this root's labs made them (a passwordless-sudo account is not left behind on the machine).
release_pltuser() {
  if [[ -f "$LAB_ROOT/.pltuser-sudoers" ]]; then
    rm -f /etc/sudoers.d/pltuser "$LAB_ROOT/.pltuser-sudoers"
  fi
  if [[ -f "$LAB_ROOT/.pltuser-created" ]]; then
    pkill -u pltuser 2>/dev/null || true
    userdel -r pltuser 2>/dev/null || userdel pltuser 2>/dev/null || true
    rm -f "$LAB_ROOT/.pltuser-created"
  fi
}

# ------------------------------------------------------------------------------------------ up

ensure_pltuser() {
  if ! id pltuser >/dev/null 2>&1; then
    log "creating user pltuser"
    useradd -m -s /bin/bash pltuser
    touch "$LAB_ROOT/.pltuser-created"
  fi
  # useradd leaves the password as "!" (locked); with UsePAM no, sshd refuses locked accounts
  # even for key login. "*" means "no password" without being locked.
  if [[ "$(getent shadow pltuser | cut -d: -f2)" == '!'* ]]; then
    usermod -p '*' pltuser
  fi
  if [[ ! -f /etc/sudoers.d/pltuser ]]; then
    local tmp
    tmp="$(mktemp)"
    echo 'pltuser ALL=(ALL) NOPASSWD:ALL' >"$tmp"
    visudo -cqf "$tmp" >&2
    install -m 0440 -o root -g root "$tmp" /etc/sudoers.d/pltuser
    rm -f -- "$tmp"
    touch "$LAB_ROOT/.pltuser-sudoers"
  fi
}

# Every Debian package a lab host needs, installed when missing, so `npm run demo` and `npm test`
# work on a fresh machine: sshd and ssh-keygen, ip, nsenter/unshare, sysctl, sudo (for pltuser),
# and the hardware emulation: a FUSE daemon in Python (python3-fusepy, with libfuse2), the real
# ethtool it falls back to, and a real irqbalance for `lab.sh irqbalance` (and udev: ensure_udev).
LAB_PACKAGES=(openssh-server openssh-client iproute2 util-linux procps sudo python3-fusepy irqbalance ethtool strace)

# Locked: concurrent labs would race on apt-get and useradd.
locked_ensure_packages() {
  mkdir -p -- "$(dirname -- "$LAB_ROOT")"
  mkdir -m 0700 -- "$LAB_ROOT" 2>/dev/null || [[ -d "$LAB_ROOT" ]] || die "cannot create $LAB_ROOT"
  { flock -w 600 9 || die "timed out waiting for $LAB_ROOT/.lock"; ensure_packages; } 9>>"$LAB_ROOT/.lock"
}

ensure_packages() {
  local -a missing=()
  local p
  for p in "${LAB_PACKAGES[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
      { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; }
  fi
  ensure_udev
  [[ -c /dev/fuse ]] || modprobe fuse 2>/dev/null || true
  [[ -c /dev/fuse ]] || die "/dev/fuse is missing: the emulated hardware needs FUSE"
  # irqbalance's socket dir (what its package would create); each host mounts its own tmpfs there.
  [[ -d /run/irqbalance ]] || mkdir -m 0755 /run/irqbalance
}

# Real udev for the tests that run `udevadm test` on a host's rules. It must match the machine's
# libudev1 exactly, or apt would upgrade systemd itself for a test tool; when that version is not
# served, those tests say udev is missing and try nothing.
ensure_udev() {
  command -v udevadm >/dev/null && return 0
  local version
  version="$(dpkg-query -W -f='${Version}' libudev1 2>/dev/null)" || return 0
  [[ -n "$version" ]] || return 0
  log "installing udev=$version"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "udev=$version" >&2 ||
    { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "udev=$version" >&2; } ||
    log "udev $version is not installable here: the real-udev checks are skipped"
}

octet_in_use() {
  ip -o -4 addr show | awk '{print $4}' | grep -q "^${NET_PREFIX//./\\.}\.$1\."
}

# Runs with fd 9 open on the lock file: the octet choice and the address assignment are one
# critical section, so concurrent `up` calls see each other's addresses.
build_network() {
  local id="$1" n="$2" i ns veth base tries=0
  flock -w 120 9 || die "timed out waiting for $LAB_ROOT/.lock"
  while :; do
    OCTET=$((0x$(rand_hex 1)))
    octet_in_use "$OCTET" || break
    ((++tries < 1000)) || die "no free ${NET_PREFIX}.X.0/24 left"
  done
  for ((i = 1; i <= n; i++)); do
    ns="plt-$id-h$i"
    veth="pv$id$i"
    base=$((4 * (i - 1)))
    ip netns add "$ns"
    # The peer is created directly inside the namespace so no "eth1" ever exists in the root ns.
    ip link add "$veth" type veth peer name eth1 netns "$ns"
    ip addr add "$NET_PREFIX.$OCTET.$((base + 1))/30" dev "$veth"
    ip link set "$veth" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$NET_PREFIX.$OCTET.$((base + 2))/30" dev eth1
    ip -n "$ns" link set eth1 up
  done
}

write_host_files() {
  local dir="$1" i="$2" addr="$3" hw="$4"
  local hdir="$dir/hosts/h$i"
  mkdir -p "$hdir/root" "$hdir/etc-upper" "$hdir/etc-work" "$hdir/varlib-upper" "$hdir/varlib-work" "$hdir/hw" "$hdir/hw.mnt"
  # 0711: users other than root (pltuser) running the emulated ethtool must reach hw.py and hw/.
  chmod 0711 "$dir/hosts" "$hdir"
  chmod 0755 "$hdir/root" "$hdir/etc-upper" "$hdir/hw"
  # A whiteout: the host starts without the machine's own ledgers (a local-transport run on this
  # machine writes them there), and what the host writes there stays its own.
  [[ -e "$hdir/varlib-upper/pulumi-linux-tuning" ]] || mknod "$hdir/varlib-upper/pulumi-linux-tuning" c 0 0
  # root's home as a fresh Debian host has it: this machine's /root may start tools (pyenv) in
  # every SSH session, CPU that would count against each lab host.
  mkdir -p -m 0700 "$hdir/root-home"
  cp /etc/skel/.bashrc /etc/skel/.profile "$hdir/root-home/" 2>/dev/null || true
  : >"$hdir/mounts"
  /usr/bin/python3 -I "$dir/hw.py" init "$hdir" "$hw"
  # What /usr/sbin/ethtool is inside the host (bound over it by boot-ns.sh).
  printf '#!/bin/sh\nexec /usr/bin/python3 -I %s ethtool %s "$@"\n' "'$dir/hw.py'" "'$hdir'" >"$hdir/hw/ethtool"
  chmod 0755 "$hdir/hw/ethtool"
  ssh-keygen -q -t ed25519 -N '' -C "plt-lab-h$i" -f "$hdir/ssh_host_ed25519_key"

  # AuthorizedKeysFile is opened with the *user's* uid, and the labs root may be private to root,
  # so for pltuser the file can be unreadable; AuthorizedKeysCommand runs as root and covers every
  # user.
  cat >"$hdir/sshd_config" <<EOF
ListenAddress $addr
Port 22
HostKey $hdir/ssh_host_ed25519_key
PidFile $hdir/sshd.nspid
AuthorizedKeysFile $dir/authorized_keys
AuthorizedKeysCommand /usr/bin/cat $dir/authorized_keys
AuthorizedKeysCommandUser root
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 64
MaxStartups 64:30:128
UseDNS no
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF

  # boot.sh runs inside the host's netns and a fresh private mount namespace: it starts the
  # hardware daemon there (its FUSE mount exists in this namespace only), then boot-ns.sh becomes
  # PID 1 of a new PID namespace with its own /proc and a private copy of the mounts, binds the
  # emulated files over the real ones, and execs sshd. --kill-child: if unshare dies, so does sshd.
  cat >"$hdir/boot.sh" <<EOF
#!/bin/sh
set -eu
/usr/bin/python3 -I '$dir/hw.py' serve '$hdir/' </dev/null >>'$hdir/hw.log' 2>&1 &
hw=\$!
echo "\$hw" >'$hdir/hw.pid'
i=0
until [ -e '$hdir/hw.mnt/interrupts' ]; do
  kill -0 "\$hw" 2>/dev/null || { echo "boot.sh: the hardware emulation (hw.py serve) exited:" >&2; cat '$hdir/hw.log' >&2; exit 1; }
  i=\$((i + 1))
  [ "\$i" -lt 200 ] || { echo "boot.sh: the hardware emulation did not mount within 10s" >&2; exit 1; }
  sleep 0.05
done
exec unshare --pid --kill-child --mount-proc --propagation private -- /bin/sh '$hdir/boot-ns.sh'
EOF

  cat >"$hdir/boot-ns.sh" <<EOF
#!/bin/sh
set -eu
root='$hdir/root'
hw='$hdir/hw.mnt'
# The host's own /etc: reads fall through to the machine's, writes (sysctl.d files, systemd
# units, udev rules, /etc/default) land in this host's upper dir and nowhere else.
mount -t overlay overlay -o 'lowerdir=/etc,upperdir=$hdir/etc-upper,workdir=$hdir/etc-work' /etc
# Its own /var/lib too: state a host keeps (the tuning ledgers in /var/lib/pulumi-linux-tuning).
mount -t overlay overlay -o 'lowerdir=/var/lib,upperdir=$hdir/varlib-upper,workdir=$hdir/varlib-work' /var/lib
mount --bind '$hdir/root-home' /root
# Emulated hardware (hw.py), over the very paths tools read on real machines.
mount --bind "\$hw/cpu" /sys/devices/system/cpu
if [ -d /sys/devices/system/node ]; then mount --bind "\$hw/node" /sys/devices/system/node; fi
mount --bind "\$hw/pci" /sys/devices/pci0000:00
mount --bind "\$hw/pcibus" /sys/bus/pci/devices
mount --bind "\$hw/eth1" /sys/devices/virtual/net/eth1
mount --bind "\$hw/irq" /proc/irq
mount --bind "\$hw/interrupts" /proc/interrupts
mount --bind "\$hw/stat" /proc/stat
# THP is global to the machine: each host gets its own enabled and defrag.
if [ -d /sys/kernel/mm/transparent_hugepage ]; then mount --bind "\$hw/thp" /sys/kernel/mm/transparent_hugepage; fi
# Two of debugfs's scheduler knobs (sched/preempt, sched/tunable_scaling), as a host's own.
if [ -d /sys/kernel/debug ]; then mount --bind "\$hw/debug" /sys/kernel/debug; fi
# As in a container, only /proc/sys/net (per network namespace) stays writable: kernel.*, vm.*,
# fs.* and global net.core keys belong to the machine and are never changed from a lab host.
mount --bind /proc/sys /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,ro /proc/sys
mount --bind "\$hw/module" /sys/module
mount --bind "\$hw/tcp_available_congestion_control" /proc/sys/net/ipv4/tcp_available_congestion_control
mount --bind "\$hw/tcp_congestion_control" /proc/sys/net/ipv4/tcp_congestion_control
# Kernel modules (hw.py modprobe): modprobe, rmmod, lsmod and /usr/lib/modules, which the real
# /usr lacks, layered over it for this host only (read-only overlay, nothing written to /usr).
mount -t overlay overlay -o 'lowerdir=$hdir/hw/usr:/usr' /usr
mount --bind '$hdir/hw/ethtool' /usr/sbin/ethtool
mount -t tmpfs -o mode=0755,size=1m plt-irqbalance /run/irqbalance
while IFS= read -r target || [ -n "\$target" ]; do
  case "\$target" in /*) ;; *) continue ;; esac
  if [ -d "\$root\$target" ]; then
    mount --bind "\$root\$target" "\$target"
  else
    echo "boot-ns.sh: skipping \$target: \$root\$target is not a directory" >&2
  fi
done < '$hdir/mounts'
mkdir -p -m 0755 /run/sshd
exec /usr/sbin/sshd -D -e -f '$hdir/sshd_config'
EOF
}

start_host() {
  local hdir="$1" ns="$2"
  setsid ip netns exec "$ns" unshare --mount --propagation private -- \
    /bin/sh "$hdir/boot.sh" </dev/null >"$hdir/sshd.log" 2>&1 &
  echo $! >"$hdir/launch.pid"
}

# launch.pid is the `unshare --pid` parent (setsid, ip netns exec, unshare --mount and sh all
# exec); its one child is sshd, PID 1 of the host's PID namespace. sshd writes its pid as seen
# there ("1") to sshd.nspid; sshd.pid gets the pid the real machine sees.
sshd_outer_pid() {
  local hdir="$1" launch child
  launch="$(tr -dc '0-9' <"$hdir/launch.pid")"
  [[ -n "$launch" ]] || return 1
  for child in $(pgrep -P "$launch" 2>/dev/null); do
    if [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$child/cmdline")" == *sshd*"$hdir/sshd_config"* ]]; then
      echo "$child"
      return 0
    fi
  done
  return 1
}

wait_host() {
  local dir="$1" hdir="$2" addr="$3" deadline=$((SECONDS + SSHD_WAIT_SECONDS)) pid misses=0
  while ((SECONDS < deadline)); do
    # The launch chain execs several times (setsid, ip, unshare, sh, unshare): right after the
    # fork and in the middle of an exec its cmdline does not match yet, so only a mismatch seen
    # three polls in a row means the host died.
    if pid_is_lab_host "$(cat "$hdir/launch.pid")" "$hdir"; then
      misses=0
    elif ((++misses >= 3)); then
      break
    fi
    if [[ -s "$hdir/sshd.nspid" ]] && pid="$(sshd_outer_pid "$hdir")" &&
      ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=2 -o IdentitiesOnly=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -i "$dir/id_ed25519" "root@$addr" true </dev/null >/dev/null 2>&1; then
      echo "$pid" >"$hdir/sshd.pid.tmp"
      mv -f "$hdir/sshd.pid.tmp" "$hdir/sshd.pid"
      pid_is_lab_host "$pid" "$hdir" && return 0
    fi
    sleep 0.1
  done
  log "sshd at $addr exited or did not accept ssh within ${SSHD_WAIT_SECONDS}s; $hdir/sshd.log:"
  sed 's/^/  | /' "$hdir/sshd.log" >&2 || true
  if [[ -s "$hdir/hw.log" ]]; then
    log "$hdir/hw.log:"
    sed 's/^/  | /' "$hdir/hw.log" >&2 || true
  fi
  return 1
}

write_state() {
  local dir="$1" id="$2" n="$3"
  # shellcheck disable=SC2016 # JavaScript template literals, not shell expansions
  LAB_DIR="$dir" LAB_ID="$id" LAB_N="$n" LAB_OCTET="$OCTET" LAB_PREFIX="$NET_PREFIX" node -e '
    const fs = require("fs");
    const { LAB_DIR: dir, LAB_ID: id, LAB_PREFIX: prefix } = process.env;
    const n = Number(process.env.LAB_N), octet = process.env.LAB_OCTET;
    const hosts = [];
    for (let i = 1; i <= n; i++) {
      const h = `${dir}/hosts/h${i}`, base = 4 * (i - 1);
      const [type, key] = fs.readFileSync(`${h}/ssh_host_ed25519_key.pub`, "utf8").trim().split(/\s+/);
      hosts.push({
        name: `h${i}`,
        netns: `plt-${id}-h${i}`,
        address: `${prefix}.${octet}.${base + 2}`,
        port: 22,
        rootSideAddress: `${prefix}.${octet}.${base + 1}`,
        vethRoot: `pv${id}${i}`,
        hostKey: `${type} ${key}`,
        sshdPid: Number(fs.readFileSync(`${h}/sshd.pid`, "utf8").trim()),
        mountRoot: `${h}/root`,
        hardware: JSON.parse(fs.readFileSync(`${h}/hw/profile.json`, "utf8")).name,
      });
    }
    const state = { id, dir, knownHostsPath: `${dir}/known_hosts`,
                    privateKeyPath: `${dir}/id_ed25519`, hosts };
    fs.writeFileSync(`${dir}/lab.json.tmp`, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(`${dir}/lab.json.tmp`, `${dir}/lab.json`);
  '
}

lab_up() {
  local n="" dir="" hw_arg="" id i hdir addr p
  local -a hw=()
  while (($#)); do
    case "$1" in
      --dir) [[ $# -ge 2 ]] || usage; dir="$2"; shift 2 ;;
      --hw) [[ $# -ge 2 ]] || usage; hw_arg="$2"; shift 2 ;;
      --hw=*) hw_arg="${1#--hw=}"; shift ;;
      -*) usage ;;
      *) [[ -z "$n" ]] || usage; n="$1"; shift ;;
    esac
  done
  if ! [[ "$n" =~ ^[0-9]+$ ]] || ((10#$n < 1 || 10#$n > MAX_HOSTS)); then die "N must be 1..$MAX_HOSTS"; fi
  n=$((10#$n))
  if [[ -n "$hw_arg" ]]; then
    IFS=, read -r -a hw <<<"$hw_arg"
    if ((${#hw[@]} == 1)); then
      for ((i = 1; i < n; i++)); do hw+=("${hw[0]}"); done
    fi
    ((${#hw[@]} == n)) || die "--hw needs one profile for all hosts or exactly $n, got ${#hw[@]}: $hw_arg"
  else
    hw=(server)
    for ((i = 1; i < n; i++)); do hw+=(vm); done
  fi
  for p in "${hw[@]}"; do
    [[ "$p" == server || "$p" == vm || "$p" == cluster || "$p" == mlx5 ]] || die "unknown hardware profile '$p' (known: server, vm, cluster, mlx5)"
  done

  if [[ -n "$dir" ]]; then
    dir="$(realpath -m -- "$dir")"
    id="$(basename -- "$dir")"
    [[ "$id" =~ ^[0-9a-f]{6}$ ]] || die "--dir basename must be a 6-hex lab id (it names netns and veths)"
  fi
  # Paths are written unquoted into sshd_config and boot.sh.
  [[ "$LAB_ROOT/$dir" != *[[:space:]\'\"]* ]] || die "lab paths must not contain whitespace or quotes"

  mkdir -p -- "$(dirname -- "$LAB_ROOT")"
  mkdir -m 0700 -- "$LAB_ROOT" 2>/dev/null || [[ -d "$LAB_ROOT" ]] || die "cannot create $LAB_ROOT"
  # Traversable (not listable) by other users: pltuser's /usr/sbin/ethtool in a host is hw.py in
  # the lab dir. Private files below stay 0600. Only a private root (ours, or mktemp's) is changed.
  if [[ "$(stat -c '%u %a' "$LAB_ROOT")" == "0 700" ]]; then chmod 0711 "$LAB_ROOT"; fi
  locked_ensure_packages
  if [[ -n "$dir" ]]; then
    ! ip netns list | grep -q "^plt-$id-" || die "lab id $id is already in use"
    mkdir -p -- "$(dirname -- "$dir")"
    mkdir -m 0700 -- "$dir" 2>/dev/null || die "cannot create $dir (already exists?)"
  else
    for ((i = 0; ; i++)); do
      ((i < 100)) || die "cannot create a lab dir under $LAB_ROOT"
      id="$(rand_hex 3)"
      dir="$LAB_ROOT/$id"
      ip netns list | grep -q "^plt-$id-" && continue
      mkdir -m 0700 -- "$dir" 2>/dev/null && break
    done
  fi
  : >"$dir/.plt-lab"

  # From here on, a failure tears the half-built lab down again.
  # shellcheck disable=SC2064
  trap "rc=\$?; if ((rc != 0)) && [[ -z \"\${PLT_LAB_KEEP_FAILED:-}\" ]]; then lab_down '$dir' || true; fi" EXIT

  log "up $id: $n host(s) in $dir"
  build_network "$id" "$n" 9>>"$LAB_ROOT/.lock"
  log "network ${NET_PREFIX}.$OCTET.0/24"

  # Locked too: concurrent labs would race on useradd / apt-get.
  { flock -w 300 9 || die "timed out waiting for $LAB_ROOT/.lock"; ensure_pltuser; } 9>>"$LAB_ROOT/.lock"

  # The lab's own copies: hw.py (a checkout changing under a running lab does not matter) and the
  # real ethtool binary, which each host's /usr/sbin/ethtool (hw.py) runs for what it does not
  # emulate. 0711: reachable, not listable, by pltuser; the private files in it stay 0600.
  chmod 0711 "$dir"
  install -m 0644 "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/hw.py" "$dir/hw.py"
  install -d -m 0755 "$dir/bin"
  install -m 0755 "$(command -v ethtool)" "$dir/bin/ethtool"

  ssh-keygen -q -t ed25519 -N '' -C "plt-lab-$id" -f "$dir/id_ed25519"
  cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
  chmod 0644 "$dir/authorized_keys"
  mkdir -m 0755 /run/sshd 2>/dev/null || true
  : >"$dir/known_hosts"
  for ((i = 1; i <= n; i++)); do
    hdir="$dir/hosts/h$i"
    addr="$NET_PREFIX.$OCTET.$((4 * (i - 1) + 2))"
    write_host_files "$dir" "$i" "$addr" "${hw[i - 1]}"
    echo "$addr $(cut -d' ' -f1,2 "$hdir/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
    start_host "$hdir" "plt-$id-h$i"
  done
  for ((i = 1; i <= n; i++)); do
    wait_host "$dir" "$dir/hosts/h$i" "$NET_PREFIX.$OCTET.$((4 * (i - 1) + 2))"
  done

  write_state "$dir" "$id" "$n"
  log "up $id: ready"
  echo "$dir/lab.json"
}

# ---------------------------------------------------------------------------------------- exec

lab_exec() {
  (($# >= 3)) || usage
  local dir host pid hdir
  dir="$(resolve_dir "$1")"
  host="$2"
  shift 2
  [[ "$1" == "--" ]] && shift
  (($#)) || usage
  [[ "$host" =~ ^h[0-9]+$ ]] || die "host must be h<i>, got: $host"
  hdir="$dir/hosts/$host"
  [[ -r "$hdir/sshd.pid" ]] || die "no sshd.pid for $host in $dir"
  pid="$(tr -dc '0-9' <"$hdir/sshd.pid")"
  pid_is_lab_host "$pid" "$hdir" || die "sshd of $host (pid $pid) is not running"
  exec nsenter --target "$pid" --net --mount --pid -- "$@"
}

# ---------------------------------------------------------------------------------- irqbalance

# Starts the real irqbalance in the host (in its PID namespace, so `pidof irqbalance` there finds
# it and nowhere else), detached, and checks that it still runs a moment later: irqbalance exits
# on hardware it cannot balance, and then this command fails saying so, with its output.
lab_irqbalance() {
  (($# >= 2)) || usage
  local dir host hdir pid i
  dir="$(resolve_dir "$1")"
  host="$2"
  shift 2
  [[ "$host" =~ ^h[0-9]+$ ]] || die "host must be h<i>, got: $host"
  hdir="$dir/hosts/$host"
  [[ -r "$hdir/sshd.pid" ]] || die "no sshd.pid for $host in $dir"
  pid="$(tr -dc '0-9' <"$hdir/sshd.pid")"
  pid_is_lab_host "$pid" "$hdir" || die "sshd of $host (pid $pid) is not running"
  command -v irqbalance >/dev/null || die "irqbalance is not installed (apt-get install irqbalance)"
  in_host() { nsenter --target "$pid" --net --mount --pid -- "$@"; }
  ! in_host pidof -x irqbalance >/dev/null || die "irqbalance already runs in $host"
  : >"$hdir/irqbalance.log"
  # setsid -f: detached at once; the host's PID 1 (sshd) adopts and reaps it, as init would.
  in_host setsid -f "$(command -v irqbalance)" --foreground "$@" </dev/null >>"$hdir/irqbalance.log" 2>&1
  for ((i = 0; i < 20; i++)); do
    sleep 0.1
    in_host pidof -x irqbalance >/dev/null || break
  done
  if ! in_host pidof -x irqbalance >/dev/null; then
    log "irqbalance exited right after starting in $host: it cannot run on this host; its output:"
    sed 's/^/  | /' "$hdir/irqbalance.log" >&2 || true
    exit 1
  fi
  log "irqbalance runs in $host (pid $(in_host pidof -x irqbalance) there); output in $hdir/irqbalance.log"
}

# ---------------------------------------------------------------------------------------- main

(($#)) || usage
[[ "$(id -u)" == 0 ]] || die "must run as root"
cmd="$1"
shift
case "$cmd" in
  up) lab_up "$@" ;;
  down) (($# == 1)) || usage; lab_down "$1" ;;
  down-all) (($# == 0)) || usage; lab_down_all ;;
  exec) lab_exec "$@" ;;
  config)
    cd "$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")/../.."
    TS_NODE_PROJECT=tests/tsconfig.json exec npx ts-node tests/lab/stack-config.ts "$@" ;;
  irqbalance) lab_irqbalance "$@" ;;
  packages) (($# == 0)) || usage; locked_ensure_packages ;;
  *) usage ;;
esac
