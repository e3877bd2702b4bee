#!/usr/bin/python3
"""Emulated hardware for one lab host: cpufreq, CPU hotplug, NIC queue IRQs and their affinity,
NIC rings and coalescing.

The lab VM has no cpufreq, and a veth has no rings, no coalescing and no IRQs of its own. This
program makes a lab host look like a machine that has them, at exactly the files and commands a
tuning tool reads on real hardware, with the real kernel's and tools' limits and errors:

  hw.py init HOST_DIR PROFILE      write HOST_DIR/hw/{profile,nic}.json (lab.sh up)
  hw.py serve HOST_DIR             FUSE daemon at HOST_DIR/hw.mnt; boot-ns.sh binds its subtrees
                                   over /sys/devices/system/{cpu,node}, /proc/irq, /proc/interrupts,
                                   /proc/stat, /sys/devices/virtual/net/eth1, /sys/devices/pci0000:00,
                                   /sys/bus/pci/devices, /sys/kernel/mm/transparent_hugepage and
                                   /sys/kernel/debug (sched/preempt and sched/tunable_scaling only)
  hw.py ethtool HOST_DIR ARGS...   what /usr/sbin/ethtool is inside the host: rings (-g/-G) and
                                   coalescing (-c/-C) of the emulated NIC; everything else execs the
                                   real ethtool (a copy kept at LAB_DIR/bin/ethtool)
  hw.py modprobe|rmmod|lsmod|modinfo HOST_DIR ARGS...
                                   what /usr/sbin/{modprobe,rmmod,lsmod,modinfo} are inside the host: kmod's
                                   commands over the host's module catalogue (HOST_DIR/hw/modules.json);
                                   loaded modules show in /sys/module, and bbr follows tcp_bbr in
                                   /proc/sys/net/ipv4/tcp_{available_,}congestion_control (see
                                   "kernel modules" below for what is emulated and why)
  hw.py kernel-without HOST_DIR MODULE
                                   the host's kernel no longer has MODULE (modprobe: not found), as
                                   a kernel built without it
  hw.py module-held HOST_DIR MODULE on|off
                                   something on the host takes MODULE into use as soon as it loads
                                   (a holder named "lab_user", as a firewall rule holds its module),
                                   so rmmod refuses it; off lets go of it
  hw.py module-slow HOST_DIR MODULE SECONDS
                                   MODULE's load takes SECONDS (its init waiting on firmware, say),
                                   during which other loads on the host go ahead
  hw.py boot-isolated HOST_DIR ISOLATED NOHZ_FULL
                                   the host as booted with isolcpus=ISOLATED nohz_full=NOHZ_FULL (CPU
                                   lists, "" for none): /sys/devices/system/cpu/{isolated,nohz_full}
                                   show them, and rps_cpus leaves them out as the kernel does
  hw.py tx-unmapped HOST_DIR QUEUES
                                   the NIC's tx queues QUEUES ("tx-2 tx-3", "" for none) belong to no
                                   traffic class, as under an mqprio qdisc that maps fewer queues:
                                   their xps_cpus answers EINVAL, as xps_cpus_show() does
  hw.py traffic HOST_DIR RATE      the NIC takes traffic: each queue IRQ raises RATE interrupts a
                                   second on its effective CPU, in /proc/interrupts (0: none, the
                                   default, where the counts stand still)

The daemon runs in the host's network namespace and in a mount namespace of its own (where the
real /sys and /proc are still visible: it reads them to pass real entries through); the binds
live only in the host's inner mount namespace, so the real machine never sees any of it.
State lives in the daemon's memory (CPU, IRQ) and in HOST_DIR/hw/nic.json (rings, coalescing,
under flock) for the lab's life.
"""

import errno
import fcntl
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time

NIC = "eth1"

# ------------------------------------------------------------------------------------ cpumasks


def fmt_list(cpus):
    """The kernel's %*pbl: "0-3", "0,2", "" for none."""
    out, cpus = [], sorted(cpus)
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
        i = j + 1
    return ",".join(out)


def fmt_mask(cpus, nbits):
    """The kernel's %*pb: hex, 32-bit chunks separated by commas, nbits wide."""
    nchunks = max(1, (nbits + 31) // 32)
    parts = []
    for c in reversed(range(nchunks)):
        val = 0
        for b in cpus:
            if 32 * c <= b < 32 * c + 32:
                val |= 1 << (b - 32 * c)
        width = 8 if c < nchunks - 1 else max(1, (nbits - 32 * c + 3) // 4)
        parts.append("%0*x" % (width, val))
    return ",".join(parts)


def _err(code):
    return OSError(code, os.strerror(code))


def parse_list(text, nbits):
    """lib/bitmap-str.c bitmap_parselist(): "0-3", "1,3", "0-7:2/4", "all", "N"."""
    s = text.split("\0", 1)[0]
    n = len(s)
    lastbit = nbits - 1
    bits = set()

    def is_end_of_str(i):
        return i >= n or s[i] == "\n"

    def is_end_of_region(i):
        return i >= n or s[i].isspace() or s[i] == ","

    def getnum(i):
        if i < n and s[i] == "N":
            return lastbit, i + 1
        j = i
        while j < n and s[j].isdigit():
            j += 1
        if j == i:
            raise _err(errno.EINVAL)
        v = int(s[i:j])
        if v > 0xFFFFFFFF:
            raise _err(errno.EOVERFLOW)
        return v, j

    i = 0
    while True:
        while i < n and (s[i].isspace() or s[i] == ","):
            i += 1
        if is_end_of_str(i):
            return bits
        if s[i:i + 3].lower() == "all":
            start, end, i = 0, lastbit, i + 3
        else:
            start, i = getnum(i)
            if is_end_of_region(i):
                end = start
                off = group = end + 1
                if start > end or group == 0 or off > group:
                    raise _err(errno.EINVAL)
                if end >= nbits:
                    raise _err(errno.ERANGE)
                bits.update(range(start, end + 1))
                continue
            if s[i] != "-":
                raise _err(errno.EINVAL)
            end, i = getnum(i + 1)
        if is_end_of_region(i):
            off = group = end + 1
        else:
            if s[i] != ":":
                raise _err(errno.EINVAL)
            off, i = getnum(i + 1)
            if i >= n or s[i] != "/":
                raise _err(errno.EINVAL)
            group, i = getnum(i + 1)
        if start > end or group == 0 or off > group:
            raise _err(errno.EINVAL)
        if end >= nbits:
            raise _err(errno.ERANGE)
        b = start
        while b <= end:
            bits.update(range(b, b + min(end - b + 1, off)))
            b += group


def parse_mask(text, nbits):
    """lib/bitmap-str.c bitmap_parse(): hex mask in 32-bit comma-separated chunks."""
    s = re.split("[\n\0]", text, maxsplit=1)[0]
    total = max(1, (nbits + 31) // 32)
    chunks_left = total
    values = []
    pos = len(s) - 1

    def hexval(ch):
        return int(ch, 16) if ch in "0123456789abcdefABCDEF" else -1

    while True:
        while pos >= 0 and (s[pos].isspace() or s[pos] == ","):
            pos -= 1
        if pos < 0:
            break
        if chunks_left == 0:
            raise _err(errno.EOVERFLOW)
        chunks_left -= 1
        val = 0
        for shift in range(0, 32, 4):
            c = hexval(s[pos])
            pos -= 1
            if c < 0:
                raise _err(errno.EINVAL)
            val |= c << shift
            if pos < 0 or s[pos].isspace() or s[pos] == ",":
                break
        else:
            if pos >= 0:
                nxt = hexval(s[pos])
                pos -= 1
                if nxt >= 0:
                    raise _err(errno.EOVERFLOW)
        values.append(val)
    bits = set()
    for k, v in enumerate(values):
        for b in range(32):
            if v >> b & 1:
                bits.add(32 * k + b)
    if any(b >= nbits for b in bits):
        raise _err(errno.EOVERFLOW)
    return bits


# ------------------------------------------------------------------------------------ profiles

REAL_PCI_ROOT = "/sys/devices/pci0000:00"
EPP_VALUES = {"performance": 0, "balance_performance": 0x80, "balance_power": 0xC0, "power": 0xFF}
EPP_NAMES = ["default", "performance", "balance_performance", "balance_power", "power"]


def kernel_version():
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def free_pci_slot(preferred):
    """A device number on bus 00 that the real PCI root does not use."""
    try:
        used = set(os.listdir(REAL_PCI_ROOT))
    except OSError:
        used = set()
    for dev in [preferred] + list(range(0x08, 0x20)):
        name = "0000:00:%02x.0" % dev
        if name not in used:
            return name
    raise SystemExit("hw.py: no free PCI slot on bus 00")


def build_profile(name):
    # Since 6.12 (genirq: "Make smp_affinity read-only for interrupts that userspace can't set")
    # a managed IRQ's affinity files are 0444 and writes fail with EPERM; before, 0644 and EIO.
    new_managed = kernel_version() >= (6, 12)
    managed = {"mode": 0o444 if new_managed else 0o644, "errno": "EPERM" if new_managed else "EIO"}
    if not os.path.isdir(REAL_PCI_ROOT):
        raise SystemExit("hw.py: %s is missing; the emulated NIC is anchored there" % REAL_PCI_ROOT)
    if name == "server":
        bridge = free_pci_slot(0x1C)
        bdf = "0000:3b:00.0"
        chip = "PCI-MSIX-" + bdf
        irqs = [
            {"irq": 0, "name": "timer", "chip": "IR-IO-APIC", "hwirq": 2, "flow": "edge", "counts": [41, 0, 0, 0]},
            {"irq": 8, "name": "rtc0", "chip": "IR-IO-APIC", "hwirq": 8, "flow": "edge", "counts": [0, 0, 0, 0]},
            {"irq": 9, "name": "acpi", "chip": "IR-IO-APIC", "hwirq": 9, "flow": "fasteoi", "counts": [0, 0, 0, 0]},
            {"irq": 101, "name": NIC, "chip": chip, "hwirq": 0, "node": 0, "counts": [3, 0, 0, 0]},
        ]
        for q in range(4):
            irqs.append({"irq": 102 + q, "name": "%s-TxRx-%d" % (NIC, q), "chip": chip, "hwirq": 1 + q, "node": 0,
                         "hint": [q], "counts": [0] * q + [18213 + 97 * q] + [0] * (3 - q)})
        irqs += [
            {"irq": 119, "name": "nvme0q0", "chip": "PCI-MSIX-0000:5e:00.0", "hwirq": 0, "node": 0, "counts": [27, 0, 0, 0]},
            {"irq": 120, "name": "nvme0q1", "chip": "PCI-MSIX-0000:5e:00.0", "hwirq": 1, "node": 0, "managed": True,
             "counts": [5210, 0, 0, 0]},
        ]
        return {
            "name": "server", "cpus": 4, "prec": 4, "managed": managed,
            "cpufreq": {"driver": "intel_pstate", "governor": "powersave", "epp": "balance_power", "epp_default": 0x80,
                        "min_khz": 800000, "max_khz": 3900000, "base_khz": 2100000},
            "numa_cpus": {"0": [0, 1, 2, 3]},
            "irqs": irqs,
            "nic": {
                "kind": "pci", "bridge": bridge, "bdf": bdf, "numa_node": 0,
                "device_path": "pci0000:00/%s/%s" % (bridge, bdf),
                "msi_irqs": [101, 102, 103, 104, 105], "queue_irqs": [102, 103, 104, 105],
                "vendor": "0x8086", "device": "0x10fb",
                "rings": {"max": {"rx": 4096, "rx-mini": 0, "rx-jumbo": 0, "tx": 4096},
                          "cur": {"rx": 256, "rx-mini": 0, "rx-jumbo": 0, "tx": 256},
                          "min": 64, "align": 8},
                "coalesce": {"supported": ["adaptive-rx", "adaptive-tx", "rx-usecs", "rx-frames", "tx-usecs", "tx-frames"],
                             "cur": {"adaptive-rx": 1, "adaptive-tx": 0, "rx-usecs": 50, "rx-frames": 0,
                                     "tx-usecs": 50, "tx-frames": 0},
                             "max_usecs": 8160, "max_frames": 65535, "adaptive_pins_usecs": True},
            },
        }
    if name == "vm":
        slot = free_pci_slot(0x0A)
        chip = "PCI-MSIX-" + slot
        irqs = [
            {"irq": 1, "name": "i8042", "chip": "IO-APIC", "hwirq": 1, "flow": "edge", "counts": [9, 0]},
            {"irq": 4, "name": "ttyS0", "chip": "IO-APIC", "hwirq": 4, "flow": "edge", "counts": [0, 312]},
            {"irq": 9, "name": "acpi", "chip": "IO-APIC", "hwirq": 9, "flow": "fasteoi", "counts": [0, 0]},
            {"irq": 24, "name": "virtio0-config", "chip": "PCI-MSIX-0000:00:04.0", "hwirq": 0, "counts": [0, 0]},
            {"irq": 25, "name": "virtio0-req.0", "chip": "PCI-MSIX-0000:00:04.0", "hwirq": 1, "managed": True,
             "node": 0, "counts": [0, 40913]},
            {"irq": 40, "name": "virtio1-config", "chip": chip, "hwirq": 0, "counts": [0, 0]},
            {"irq": 41, "name": "virtio1-input.0", "chip": chip, "hwirq": 1, "hint": [0, 1], "counts": [0, 20897]},
            {"irq": 42, "name": "virtio1-output.0", "chip": chip, "hwirq": 2, "hint": [0, 1], "counts": [19283, 0]},
        ]
        return {
            # Two sockets with the NIC on the second, as on large cloud VMs.
            "name": "vm", "cpus": 2, "prec": 3, "managed": managed, "cpufreq": None,
            "numa_cpus": {"0": [0], "1": [1]},
            "irqs": irqs,
            "nic": {
                "kind": "virtio", "slot": slot, "virtio": "virtio1", "numa_node": 1,
                "device_path": "pci0000:00/%s/virtio1" % slot,
                "msi_irqs": [40, 41, 42], "queue_irqs": [41, 42],
                "vendor": "0x1af4", "device": "0x1000",
                "rings": {"max": {"rx": 256, "rx-mini": 0, "rx-jumbo": 0, "tx": 256},
                          "cur": {"rx": 256, "rx-mini": 0, "rx-jumbo": 0, "tx": 256},
                          "pow2": True},
                "coalesce": {"supported": ["rx-usecs", "tx-usecs"], "cur": {"rx-usecs": 0, "tx-usecs": 0}},
            },
        }
    if name == "cluster":
        # The server with two CPUs to a cpufreq policy, as acpi-cpufreq under software coordination
        # or an arm64 cluster: cpu1 and cpu3 link to policy0 and policy2, one governor per pair;
        # and, as with those drivers, no energy_performance_preference.
        prof = build_profile("server")
        prof["name"] = "cluster"
        prof["cpufreq"].update({"policies": [[0, 1], [2, 3]], "driver": "acpi-cpufreq", "epp": None})
        return prof
    if name == "mlx5":
        # The server's NIC as the second port of a dual-port ConnectX card on a kernel that names
        # its vectors without the device (mlx5_comp0, not mlx5_comp0@pci:0000:3b:00.1): the first
        # port's vectors (no interface here) print the same names in /proc/interrupts.
        prof = build_profile("server")
        prof["name"] = "mlx5"
        nic = prof["nic"]
        nic.update({"bdf": "0000:3b:00.1", "vendor": "0x15b3", "device": "0x1017", "msi_irqs": [60, 61, 62, 63, 64], "queue_irqs": [61, 62, 63, 64]})
        nic["device_path"] = "pci0000:00/%s/%s" % (nic["bridge"], nic["bdf"])
        ports = []
        for base, bdf in ((40, "0000:3b:00.0"), (60, nic["bdf"])):
            ports.append({"irq": base, "name": "mlx5_async_eq", "chip": "PCI-MSIX-" + bdf, "hwirq": 0, "node": 0, "counts": [3, 0, 0, 0]})
            for q in range(4):
                ports.append({"irq": base + 1 + q, "name": "mlx5_comp%d" % q, "chip": "PCI-MSIX-" + bdf, "hwirq": 1 + q, "node": 0,
                              "hint": [q], "counts": [0] * q + [9000 + q] + [0] * (3 - q)})
        prof["irqs"] = [d for d in prof["irqs"] if not d["chip"].startswith("PCI-MSIX-0000:3b:")] + ports
        return prof
    raise SystemExit("hw.py: unknown hardware profile %r (known: %s)" % (name, ", ".join(PROFILES)))


PROFILES = ("server", "vm", "cluster", "mlx5")


def cmd_init(hdir, name):
    prof = build_profile(name)
    os.makedirs(os.path.join(hdir, "hw"), exist_ok=True)
    write_json(os.path.join(hdir, "hw", "profile.json"), prof)
    nic = prof["nic"]
    write_json(os.path.join(hdir, "hw", "nic.json"), {"rings": nic["rings"]["cur"], "coalesce": nic["coalesce"]["cur"]})
    with open(os.path.join(hdir, "hw", "nic.json.lock"), "a"):
        pass
    init_modules(hdir)


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def load_profile(hdir):
    with open(os.path.join(hdir, "hw", "profile.json")) as f:
        return json.load(f)


# ------------------------------------------------------------------------------- machine state


class Irq:
    def __init__(self, d, ncpu):
        self.irq = d["irq"]
        self.name = d["name"]
        self.chip = d["chip"]
        self.hwirq = d["hwirq"]
        self.flow = d.get("flow", "edge")
        self.managed = bool(d.get("managed"))
        self.node = d.get("node", -1)
        self.hint = set(d.get("hint", []))
        self.counts = (list(d.get("counts", [])) + [0] * ncpu)[:ncpu]
        self.affinity = set(range(ncpu))
        self.effective = None


class Machine:
    """CPU and IRQ state of one host, guarded by one lock."""

    def __init__(self, prof, traffic=lambda: (0.0, 0.0)):
        self.prof = prof
        # () -> (interrupts per second per queue, since when): see tick().
        self.traffic = traffic
        self.ticked_at = time.time()
        self.pending = 0.0
        self.lock = threading.RLock()
        self.ncpu = prof["cpus"]
        self.present = set(range(self.ncpu))
        self.online = set(self.present)
        self.default_affinity = set(self.present)
        self.irqs = {}
        for d in prof["irqs"]:
            irq = Irq(d, self.ncpu)
            self.irqs[irq.irq] = irq
        for irq in sorted(self.irqs):
            self.pick_effective(self.irqs[irq])
        cf = prof.get("cpufreq")
        self.cpufreq = {}
        if cf:
            # One state per policy, shared by the CPUs it covers.
            for group in self.policy_groups():
                state = {"policy": cf["governor"], "epp": EPP_VALUES[cf["epp"]] if cf["epp"] else 0, "epp_powersave": -1,
                         "min_req": cf["min_khz"], "max_req": cf["max_khz"]}
                for cpu in group:
                    self.cpufreq[cpu] = state
        self.pstate = {"no_turbo": 0, "max_perf_pct": 100, "min_perf_pct": 20}
        # Each CPU's resume latency PM QoS request as the kernel holds it: S32_MAX is "no constraint".
        self.resume_latency = {cpu: S32_MAX for cpu in self.present}
        self.thp = {"enabled": "always", "defrag": "madvise"}
        self.preempt = "voluntary"
        self.tunable_scaling = 1

    # IRQs ----------------------------------------------------------------------------------

    def tick(self):
        """The NIC's queue interrupts since the last look, each on its queue IRQ's effective CPU.
        Called before anything moves an IRQ, so what came before lands where it was."""
        rate, since = self.traffic()
        now = time.time()
        self.pending += rate * max(0.0, now - max(self.ticked_at, since))
        self.ticked_at = now
        whole = int(self.pending)
        if not whole:
            return
        self.pending -= whole
        for n in self.prof.get("nic", {}).get("queue_irqs", []):
            irq = self.irqs.get(n)
            if irq is not None and irq.effective is not None:
                irq.counts[irq.effective] += whole

    def pick_effective(self, irq):
        """x86 vector allocation: the least loaded online CPU of the affinity mask."""
        choices = sorted(irq.affinity & self.online)
        if not choices:
            irq.effective = None
            return
        load = {c: 0 for c in choices}
        for other in self.irqs.values():
            if other is not irq and other.effective in load:
                load[other.effective] += 1
        irq.effective = min(choices, key=lambda c: (load[c], c))

    def set_affinity(self, irqno, text, as_list):
        with self.lock:
            self.tick()
            irq = self.irqs[irqno]
            if irq.managed:
                raise _err(getattr(errno, self.prof["managed"]["errno"]))
            mask = parse_list(text, self.ncpu) if as_list else parse_mask(text, self.ncpu)
            if not mask & self.online:
                raise _err(errno.EINVAL)
            irq.affinity = mask
            self.pick_effective(irq)

    def set_default_affinity(self, text):
        with self.lock:
            mask = parse_mask(text, self.ncpu)
            if not mask & self.online:
                raise _err(errno.EINVAL)
            self.default_affinity = mask

    # CPU hotplug ---------------------------------------------------------------------------

    def set_online(self, cpu, text):
        value = parse_bool(text)
        with self.lock:
            self.tick()
            if value == (cpu in self.online):
                return
            if value:
                self.online.add(cpu)
                for irq in self.irqs.values():
                    if irq.effective is None:
                        self.pick_effective(irq)
                return
            if len(self.online) == 1:
                raise _err(errno.EBUSY)
            self.online.discard(cpu)
            for irq in self.irqs.values():
                if irq.effective == cpu or irq.effective is None:
                    if not irq.affinity & self.online and not irq.managed:
                        irq.affinity = set(self.online)  # "affinity broken", as the kernel does
                    self.pick_effective(irq)

    # cpufreq (intel_pstate, HWP active mode) -------------------------------------------------

    def policy_groups(self):
        return self.prof["cpufreq"].get("policies") or [[cpu] for cpu in sorted(self.present)]

    def policy_of(self, cpu):
        """The CPUs of cpu's policy; the policy is named after the first."""
        return next(group for group in self.policy_groups() if cpu in group)

    def _policy(self, cpu):
        if not self.online.intersection(self.policy_of(cpu)):
            raise _err(errno.EBUSY)  # an inactive policy (all its CPUs offline): cpufreq's show()/store() return -EBUSY
        return self.cpufreq[cpu]

    def cf_show(self, cpu, attr):
        cf = self.prof["cpufreq"]
        with self.lock:
            p = self._policy(cpu)
            hi = max(cf["min_khz"], min(p["max_req"], cf["max_khz"]))
            lo = max(cf["min_khz"], min(p["min_req"], hi))
            if attr == "scaling_governor":
                return p["policy"]
            if attr == "energy_performance_preference":
                for name, value in EPP_VALUES.items():
                    if value == p["epp"]:
                        return name
                return str(p["epp"])
            if attr == "scaling_max_freq":
                return str(hi)
            if attr == "scaling_min_freq":
                return str(lo)
            if attr == "scaling_cur_freq":
                return str(hi if p["policy"] == "performance" else max(lo, min(hi, 1200000 + 100000 * cpu)))
        raise _err(errno.EIO)

    def cf_store(self, cpu, attr, text):
        with self.lock:
            p = self._policy(cpu)
            if attr == "scaling_governor":
                words = text.split()
                if not words:
                    raise _err(errno.EINVAL)
                word = words[0][:15].lower()  # sscanf("%15s"), then strncasecmp
                if word not in ("performance", "powersave"):
                    raise _err(errno.EINVAL)
                if word == p["policy"]:
                    return
                p["policy"] = word
                # intel_pstate_hwp_set(): performance forces EPP 0 and saves the old value;
                # back to powersave restores it unless the EPP was changed meanwhile.
                if not self.prof["cpufreq"]["epp"]:
                    return
                if word == "performance":
                    p["epp_powersave"] = p["epp"]
                    p["epp"] = 0
                elif p["epp"] == 0 and p["epp_powersave"] >= 0:
                    p["epp"] = p["epp_powersave"]
                return
            if attr == "energy_performance_preference":
                words = text.split()
                if not words:
                    raise _err(errno.EINVAL)
                word = words[0][:20]
                if word in EPP_NAMES:
                    epp = self.prof["cpufreq"]["epp_default"] if word == "default" else EPP_VALUES[word]
                else:
                    epp = kstrtouint(text, 10)
                    if epp > 255:
                        raise _err(errno.EINVAL)
                if epp > 0 and p["policy"] == "performance":
                    raise _err(errno.EBUSY)
                p["epp"] = epp
                return
            if attr in ("scaling_max_freq", "scaling_min_freq"):
                value = kstrtouint(text, 0)
                p["max_req" if attr == "scaling_max_freq" else "min_req"] = value
                return
            if attr == "scaling_setspeed":
                raise _err(errno.EINVAL)
        raise _err(errno.EIO)


# ------------------------------------------------------------- THP and CPU wake-up latency

S32_MAX = 2 ** 31 - 1
THP_ROOT = "/sys/kernel/mm/transparent_hugepage"
# mm/huge_memory.c: the words each file offers, in the order it shows them.
THP_CHOICES = {"enabled": ["always", "madvise", "never"], "defrag": ["always", "defer", "defer+madvise", "madvise", "never"]}


def sysfs_streq(text, word):
    """sysfs_streq(): equal, ignoring one trailing newline."""
    return text.split("\0", 1)[0] in (word, word + "\n")


def thp_show(m, attr):
    with m.lock:
        return " ".join("[%s]" % w if w == m.thp[attr] else w for w in THP_CHOICES[attr]) + "\n"


def thp_store(m, attr, text):
    for word in THP_CHOICES[attr]:
        if sysfs_streq(text, word):
            with m.lock:
                m.thp[attr] = word
            return
    raise _err(errno.EINVAL)


# Two of debugfs's scheduler knobs (kernel/sched/debug.c), which tuned's scheduler plugin writes.
# sched/preempt (PREEMPT_DYNAMIC) shows every mode with the current one in parentheses and takes
# one mode name (strstrip'd, at most 15 bytes); sched/tunable_scaling takes 0, 1 or 2 (kstrtouint,
# base 10). Anything else: EINVAL.
PREEMPT_MODES = ["none", "voluntary", "full", "lazy"]


def preempt_show(m):
    with m.lock:
        return " ".join("(%s)" % w if w == m.preempt else w for w in PREEMPT_MODES) + "\n"


def preempt_store(m, text):
    word = text.split("\0", 1)[0][:15].strip()
    if word not in PREEMPT_MODES:
        raise _err(errno.EINVAL)
    with m.lock:
        m.preempt = word


def tunable_scaling_store(m, text):
    s = text.split("\0", 1)[0][:15]
    s = s[:-1] if s.endswith("\n") else s
    if not re.fullmatch(r"\+?[0-9]+", s) or int(s) > 2:
        raise _err(errno.EINVAL)
    with m.lock:
        m.tunable_scaling = int(s)


def kstrtos32(text):
    """kstrtos32(s, 0): the whole string (one trailing newline allowed), base 0, within s32."""
    s = text.split("\0", 1)[0]
    neg = s.startswith("-")
    v = kstrtouint(s[1:] if neg else s, 0)  # a leading "+" and one trailing newline handled there
    v = -v if neg else v
    if not -S32_MAX - 1 <= v <= S32_MAX:
        raise _err(errno.ERANGE)
    return v


def resume_latency_show(m, cpu):
    """drivers/base/power/sysfs.c: a request of 0 shows "n/a", no constraint shows "0"."""
    with m.lock:
        value = m.resume_latency[cpu]
    return "n/a\n" if value == 0 else "%d\n" % (0 if value == S32_MAX else value)


def resume_latency_store(m, cpu, text):
    """An integer in microseconds (0: no constraint; negative or S32_MAX: EINVAL), or "n/a" (a
    request of 0: no resume latency tolerated); anything else EINVAL."""
    try:
        value = kstrtos32(text)
    except OSError:
        if not sysfs_streq(text, "n/a"):
            raise _err(errno.EINVAL)
        value = 0
    else:
        if value < 0 or value == S32_MAX:
            raise _err(errno.EINVAL)
        value = value or S32_MAX
    with m.lock:
        m.resume_latency[cpu] = value


def kstrtouint(text, base):
    """kstrtouint(): the whole string (one trailing newline allowed) must be a number."""
    s = text.split("\0", 1)[0]
    if s.endswith("\n"):
        s = s[:-1]
    if s.startswith("+"):
        s = s[1:]
    try:
        if base == 0:
            if re.fullmatch(r"0[xX][0-9a-fA-F]+", s):
                v = int(s, 16)
            elif re.fullmatch(r"0[0-7]*", s):
                v = int(s, 8)
            elif re.fullmatch(r"[1-9][0-9]*", s):
                v = int(s, 10)
            else:
                raise ValueError
        elif re.fullmatch(r"[0-9]+", s):
            v = int(s, 10)
        else:
            raise ValueError
    except ValueError:
        raise _err(errno.EINVAL)
    if v > 0xFFFFFFFF:
        raise _err(errno.ERANGE)
    return v


def parse_bool(text):
    """kstrtobool() as used by the cpu online attribute."""
    s = text.strip("\n\0")
    if not s:
        raise _err(errno.EINVAL)
    c = s[0].lower()
    if c in "1y":
        return True
    if c in "0n":
        return False
    if c == "o" and len(s) > 1:
        if s[1].lower() == "n":
            return True
        if s[1].lower() == "f":
            return False
    raise _err(errno.EINVAL)


# --------------------------------------------------------------------------------- file nodes

START = time.time()


KIND_MODE = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "link": stat.S_IFLNK}


class Node:
    kind = "file"


class File(Node):
    """An emulated attribute. read() -> str; write(str) raises OSError on rejection.
    sysfs: a file without write op is 0444 and opening it for write fails with EACCES.
    procfs: the open succeeds and the write fails with EIO."""

    def __init__(self, read, write=None, mode=None, proc=False):
        self.read = read
        self.write = write
        self.proc = proc
        self.mode = mode if mode is not None else (0o644 if write else 0o444)

    def attr(self):
        return {"st_mode": stat.S_IFREG | self.mode, "st_nlink": 1, "st_size": 0 if self.proc else 4096,
                "st_uid": 0, "st_gid": 0, "st_atime": START, "st_mtime": START, "st_ctime": START}


def text(value):
    return lambda: value


class Link(Node):
    kind = "link"

    def __init__(self, target):
        self.target = target

    def attr(self):
        return {"st_mode": stat.S_IFLNK | 0o777, "st_nlink": 1, "st_size": len(self.target),
                "st_uid": 0, "st_gid": 0, "st_atime": START, "st_mtime": START, "st_ctime": START}


class Dir(Node):
    kind = "dir"
    mode = 0o755

    def __init__(self, entries=None, mode=None):
        self._entries = entries
        if mode is not None:
            self.mode = mode

    def entries(self):
        e = self._entries
        return e() if callable(e) else (e or {})

    def names(self):
        """[(name, S_IFxxx)]: readdir passes the type on (d_type), which tools such as
        irqbalance rely on."""
        return [(name, KIND_MODE[node.kind]) for name, node in self.entries().items()]

    def child(self, name):
        return self.entries().get(name)

    def attr(self):
        return {"st_mode": stat.S_IFDIR | self.mode, "st_nlink": 2, "st_size": 0,
                "st_uid": 0, "st_gid": 0, "st_atime": START, "st_mtime": START, "st_ctime": START}


class Real(Node):
    """A real file or symlink, passed through. Writes go to the real file only if writable."""

    def __init__(self, path, st, writable):
        self.path = path
        self.st = st
        self.writable = writable
        self.kind = "link" if stat.S_ISLNK(st.st_mode) else "file"
        if self.kind == "link":
            self.target = os.readlink(path)

    def attr(self):
        st = os.lstat(self.path)
        return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid",
                                            "st_atime", "st_mtime", "st_ctime")}


class RealDir(Dir):
    """A real directory passed through, with entries replaced (mods: name -> Node, or None to
    hide) and added (extra)."""

    def __init__(self, path, writable=False, mods=None, extra=None, hide=None):
        super().__init__()
        self.path = path
        self.writable = writable
        self.mods = mods or (lambda name, real: real)
        self.extra = extra or (lambda: {})
        self.hide = hide or (lambda name: False)

    def real_child(self, name):
        path = os.path.join(self.path, name)
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            return RealDir(path, self.writable)
        return Real(path, st, self.writable)

    def child(self, name):
        extra = self.extra()
        if name in extra:
            return extra[name]
        if self.hide(name):
            return None
        real = self.real_child(name)
        return self.mods(name, real)

    def names(self):
        extra = self.extra()
        out = []
        try:
            with os.scandir(self.path) as it:
                for entry in it:
                    name = entry.name
                    if name in extra or self.hide(name):
                        continue
                    node = self.mods(name, _Probe)
                    if node is None:
                        continue
                    if node is _Probe:
                        kind = "link" if entry.is_symlink() else "dir" if entry.is_dir(follow_symlinks=False) else "file"
                    else:
                        kind = node.kind
                    out.append((name, KIND_MODE[kind]))
        except OSError:
            pass
        return out + [(name, KIND_MODE[node.kind]) for name, node in extra.items()]

    def attr(self):
        try:
            st = os.lstat(self.path)
            return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid",
                                                "st_atime", "st_mtime", "st_ctime")}
        except OSError:
            return super().attr()


_Probe = object()  # stands for "the real entry" when listing, so mods can say None (hide) cheaply


class RealPciDir(RealDir):
    """The real PCI tree, less the real devices' msi_irqs: their IRQ numbers belong to the real
    machine, not to this host's (emulated) /proc/interrupts."""

    def __init__(self, path, extra=None):
        super().__init__(path, extra=extra, hide=lambda name: name == "msi_irqs")

    def real_child(self, name):
        node = super().real_child(name)
        return RealPciDir(node.path) if isinstance(node, RealDir) else node


# ------------------------------------------------------------------------------------ the tree


class Tree:
    def __init__(self, hdir):
        self.hdir = hdir
        self.prof = load_profile(hdir)
        self.m = Machine(self.prof, lambda: read_traffic(hdir))
        self.real_cpus = sorted(int(n[3:]) for n in os.listdir("/sys/devices/system/cpu") if re.fullmatch(r"cpu\d+", n))
        nodes = {"cpu": self.cpu_root(), "irq": self.irq_root(), "interrupts": File(self.interrupts, proc=True),
                 "stat": File(self.proc_stat, proc=True), "eth1": self.eth1_dir(), "pci": self.pci_root(),
                 "pcibus": self.pci_bus_devices()}
        if os.path.isdir("/sys/devices/system/node"):
            nodes["node"] = self.node_root()
        if os.path.isdir(THP_ROOT):
            nodes["thp"] = self.thp_dir()
        # debugfs is not mounted on this machine (and its sched/preempt is the machine's): each host gets its own.
        nodes["debug"] = Dir({"sched": Dir({"preempt": File(lambda: preempt_show(self.m), lambda t: preempt_store(self.m, t)),
                                            "tunable_scaling": File(lambda: "%d\n" % self.m.tunable_scaling, lambda t: tunable_scaling_store(self.m, t))})})
        nodes.update(module_nodes(hdir))
        self.root = Dir(nodes)

    def lookup(self, path):
        node = self.root
        for part in path.strip("/").split("/"):
            if not part:
                continue
            if node.kind != "dir":
                raise _err(errno.ENOTDIR)
            node = node.child(part)
            if node is None or node is _Probe:
                raise _err(errno.ENOENT)
        return node

    # /sys/devices/system/cpu -----------------------------------------------------------------

    def base_cpu(self, cpu):
        return cpu if cpu in self.real_cpus else self.real_cpus[-1]

    def cpu_root(self):
        m = self.m
        n = m.ncpu

        def online():
            with m.lock:
                return fmt_list(m.online) + "\n"

        def offline():
            with m.lock:
                return fmt_list(m.present - m.online) + "\n"

        def isolated():
            return fmt_list(read_isolation(self.hdir)[0]) + "\n"

        def nohz_full():
            # drivers/base/cpu.c prints the mask, which is NULL without nohz_full=: " (null)".
            cpus = read_isolation(self.hdir)[1]
            return (fmt_list(cpus) if cpus else "(null)") + "\n"

        extra = {"online": File(online), "offline": File(offline), "possible": File(text(fmt_list(range(n)) + "\n")),
                 "present": File(text(fmt_list(range(n)) + "\n")), "isolated": File(isolated), "nohz_full": File(nohz_full)}
        for cpu in range(n):
            extra["cpu%d" % cpu] = self.cpu_dir(cpu)
        if self.prof.get("cpufreq"):
            extra["cpufreq"] = Dir({"policy%d" % g[0]: self.policy_dir(g[0]) for g in self.m.policy_groups() if g[0] < n})
            if self.prof["cpufreq"]["driver"] in ("intel_pstate", "intel_cpufreq"):
                extra["intel_pstate"] = self.pstate_dir()  # intel_pstate's own: acpi-cpufreq hosts have none
        else:
            extra["cpufreq"] = Dir({})

        def hide(name):
            return bool(re.fullmatch(r"cpu\d+", name)) or name == "intel_pstate"

        return RealDir("/sys/devices/system/cpu", extra=lambda: extra, hide=hide)

    def cpu_dir(self, cpu):
        m = self.m
        base = "/sys/devices/system/cpu/cpu%d" % self.base_cpu(cpu)
        has_online = os.path.exists(base + "/online")

        def read_online():
            with m.lock:
                return "1\n" if cpu in m.online else "0\n"

        def extra():
            e = {}
            if has_online:
                e["online"] = File(read_online, lambda t: m.set_online(cpu, t))
            if self.prof.get("cpufreq"):
                e["cpufreq"] = Link("../cpufreq/policy%d" % m.policy_of(cpu)[0])
            return e

        def mods(name, real):
            if name in ("topology", "cache"):
                with m.lock:
                    if cpu not in m.online:
                        return None  # removed on offline, as the kernel's hotplug callbacks do
                if real is _Probe:
                    return real
                return self.topology_dir(cpu, real.path) if name == "topology" else self.cache_dir(cpu, real.path)
            if name == "cpufreq":
                return None
            if name == "power" and isinstance(real, RealDir):
                latency = File(lambda: resume_latency_show(m, cpu), lambda t: resume_latency_store(m, cpu, t))
                return RealDir(real.path, extra=lambda: {"pm_qos_resume_latency_us": latency})
            if re.fullmatch(r"node\d+", name):
                return real
            return real

        return RealDir(base, extra=extra, mods=mods)

    def topology_dir(self, cpu, path):
        m = self.m
        n = m.ncpu

        def own(lst):
            return File(text((fmt_list([cpu]) if lst else fmt_mask([cpu], n)) + "\n"))

        def package(lst):
            def read():
                with m.lock:
                    return (fmt_list(m.online) if lst else fmt_mask(m.online, n)) + "\n"
            return File(read)

        values = {"core_id": File(text("%d\n" % cpu)), "physical_package_id": File(text("0\n")), "die_id": File(text("0\n"))}
        for name in ("core_cpus", "thread_siblings", "cluster_cpus"):
            values[name] = own(False)
            values[name + "_list"] = own(True)
        for name in ("core_siblings", "die_cpus", "package_cpus"):
            values[name] = package(False)
            values[name + "_list"] = package(True)
        return RealDir(path, mods=lambda name, real: values.get(name, real) if real is not None else None)

    def cache_dir(self, cpu, path):
        m = self.m
        n = m.ncpu

        def index_mods(index_path):
            try:
                with open(index_path + "/level") as f:
                    level = int(f.read().strip() or 0)
            except (OSError, ValueError):
                level = 1

            def shared(lst):
                def read():
                    with m.lock:
                        cpus = m.online if level >= 3 else {cpu}
                        return (fmt_list(cpus) if lst else fmt_mask(cpus, n)) + "\n"
                return File(read)

            values = {"shared_cpu_map": shared(False), "shared_cpu_list": shared(True)}
            return lambda name, real: values.get(name, real) if real is not None else None

        def mods(name, real):
            if real is None or real is _Probe or not re.fullmatch(r"index\d+", name):
                return real
            return RealDir(real.path, mods=index_mods(real.path))

        return RealDir(path, mods=mods)

    def policy_dir(self, cpu):
        m = self.m
        cf = self.prof["cpufreq"]

        def show(attr):
            return lambda: m.cf_show(cpu, attr) + "\n"

        def store(attr):
            return lambda t: m.cf_store(cpu, attr, t)

        def static(value):
            def read():
                with m.lock:
                    m._policy(cpu)
                return value
            return read

        hwp = {
            "energy_performance_available_preferences": File(static(" ".join(EPP_NAMES) + " \n")),
            "energy_performance_preference": File(show("energy_performance_preference"), store("energy_performance_preference")),
        } if cf["epp"] else {}
        return Dir({
            **hwp,
            "affected_cpus": File(lambda: " ".join(str(c) for c in m.policy_of(cpu) if c in m.online) + "\n"),
            "related_cpus": File(static(" ".join(map(str, m.policy_of(cpu))) + "\n")),
            "base_frequency": File(static("%d\n" % cf["base_khz"])),
            "cpuinfo_max_freq": File(static("%d\n" % cf["max_khz"])),
            "cpuinfo_min_freq": File(static("%d\n" % cf["min_khz"])),
            "cpuinfo_transition_latency": File(static("0\n")),
            "scaling_available_governors": File(static("performance powersave\n")),
            "scaling_cur_freq": File(show("scaling_cur_freq")),
            "scaling_driver": File(static(cf["driver"] + "\n")),
            "scaling_governor": File(show("scaling_governor"), store("scaling_governor")),
            "scaling_max_freq": File(show("scaling_max_freq"), store("scaling_max_freq")),
            "scaling_min_freq": File(show("scaling_min_freq"), store("scaling_min_freq")),
            "scaling_setspeed": File(static("<unsupported>\n"), store("scaling_setspeed")),
        })

    def pstate_dir(self):
        m = self.m

        def value(key):
            def read():
                with m.lock:
                    return "%d\n" % m.pstate[key]

            def write(t):
                v = kstrtouint(t, 10)
                if key == "no_turbo" and v > 1 or v > 100:
                    raise _err(errno.EINVAL)
                with m.lock:
                    m.pstate[key] = v
            return File(read, write)

        def status_write(t):
            if t.strip() != "active":
                raise _err(errno.EBUSY)  # switching the driver mode is not emulated

        return Dir({"status": File(text("active\n"), status_write), "no_turbo": value("no_turbo"),
                    "max_perf_pct": value("max_perf_pct"), "min_perf_pct": value("min_perf_pct"),
                    "num_pstates": File(text("32\n")), "turbo_pct": File(text("24\n")),
                    "hwp_dynamic_boost": File(text("0\n"))})

    def thp_dir(self):
        """/sys/kernel/mm/transparent_hugepage: enabled and defrag are this host's; the rest is the
        machine's, read-only."""
        m = self.m
        files = {attr: File(lambda a=attr: thp_show(m, a), lambda t, a=attr: thp_store(m, a, t)) for attr in THP_CHOICES}
        return RealDir(THP_ROOT, extra=lambda: files)

    # /sys/devices/system/node ----------------------------------------------------------------

    def node_root(self):
        m = self.m
        numa = {int(k): set(v) for k, v in self.prof["numa_cpus"].items()}

        def node_dir(nid, path):
            def cpus():
                with m.lock:
                    return numa.get(nid, set()) & m.online

            values = {"cpulist": File(lambda: fmt_list(cpus()) + "\n"), "cpumap": File(lambda: fmt_mask(cpus(), m.ncpu) + "\n")}
            links = {"cpu%d" % c: Link("../../cpu/cpu%d" % c) for c in sorted(numa.get(nid, set()))}

            def mods(name, real):
                if re.fullmatch(r"cpu\d+", name):
                    return None
                return values.get(name, real) if real is not None else None

            return RealDir(path, mods=mods, extra=lambda: links)

        root = "/sys/devices/system/node"
        # A node this machine lacks is its node0 directory with the node's own CPUs.
        added = {"node%d" % nid: node_dir(nid, os.path.join(root, "node0")) for nid in numa
                 if not os.path.isdir(os.path.join(root, "node%d" % nid))}
        node_list = File(text(fmt_list(set(numa)) + "\n"))

        def mods(name, real):
            if real is None:
                return real
            if name in ("online", "possible", "has_cpu"):
                return node_list
            if real is _Probe:
                return real
            match = re.fullmatch(r"node(\d+)", name)
            return node_dir(int(match.group(1)), real.path) if match and isinstance(real, RealDir) else real

        return RealDir(root, mods=mods, extra=lambda: added)

    # /proc/irq, /proc/interrupts, /proc/stat ---------------------------------------------------

    def irq_root(self):
        m = self.m

        def default_read():
            with m.lock:
                return fmt_mask(m.default_affinity, m.ncpu) + "\n"

        def entries():
            with m.lock:
                e = {str(n): self.irq_dir(n) for n in sorted(m.irqs)}
            e["default_smp_affinity"] = File(default_read, m.set_default_affinity, proc=True)
            return e

        return Dir(entries, mode=0o555)

    def irq_dir(self, n):
        m = self.m
        irq = m.irqs[n]
        nbits = m.ncpu

        def show(fn):
            def read():
                with m.lock:
                    return fn() + "\n"
            return read

        if irq.managed:
            mode = self.prof["managed"]["mode"]
            failing = getattr(errno, self.prof["managed"]["errno"])

            def write_list(t):
                raise _err(failing)
            write_mask = write_list
        else:
            mode = 0o644

            def write_list(t):
                m.set_affinity(n, t, True)

            def write_mask(t):
                m.set_affinity(n, t, False)

        eff = lambda: set() if irq.effective is None else {irq.effective}  # noqa: E731
        return Dir({
            "smp_affinity": File(show(lambda: fmt_mask(irq.affinity, nbits)), write_mask, mode=mode, proc=True),
            "smp_affinity_list": File(show(lambda: fmt_list(irq.affinity)), write_list, mode=mode, proc=True),
            "effective_affinity": File(show(lambda: fmt_mask(eff(), nbits)), proc=True),
            "effective_affinity_list": File(show(lambda: fmt_list(eff())), proc=True),
            "affinity_hint": File(show(lambda: fmt_mask(irq.hint, nbits)), proc=True),
            "node": File(text("%d\n" % irq.node), proc=True),
            "spurious": File(text("count %d\nunhandled 0\nlast_unhandled 0 ms\n" % sum(irq.counts)), proc=True),
            irq.name: Dir({}, mode=0o555),
        }, mode=0o555)

    def interrupts(self):
        """kernel/irq/proc.c show_interrupts() plus the arch lines of the real machine."""
        m = self.m
        prec = self.prof["prec"]
        with m.lock:
            m.tick()
            online = sorted(m.online)
            out = [" " * (prec + 8) + "".join("CPU%-8d" % c for c in online)]
            for n in sorted(m.irqs):
                irq = m.irqs[n]
                counts = "".join(" %10d" % irq.counts[c] for c in online)
                out.append("%*d:%s %8s %*d-%-8s  %s" % (prec, n, counts, irq.chip, prec, irq.hwirq, irq.flow, irq.name))
        for line in self.real_arch_lines():
            name, counts, rest = line
            if len(counts) <= 1:
                out.append("%*s:%s" % (prec, name, "".join(" %10d" % c for c in counts)) + rest)
            else:
                per_cpu = [counts[c] if c < len(counts) else counts[-1] for c in online]
                out.append("%*s:%s" % (prec, name, "".join(" %10d" % c for c in per_cpu)) + rest)
        return "\n".join(out) + "\n"

    def real_arch_lines(self):
        lines = []
        try:
            with open("/proc/interrupts") as f:
                raw = f.read().splitlines()[1:]
        except OSError:
            return lines
        for line in raw:
            match = re.match(r"^\s*([A-Z][A-Z0-9]*):((?:\s+\d+)*)(.*)$", line)
            if match:
                lines.append((match.group(1), [int(x) for x in match.group(2).split()], match.group(3)))
        return lines

    def proc_stat(self):
        m = self.m
        with open("/proc/stat") as f:
            real = f.read().splitlines()
        per_cpu = {}
        for line in real:
            match = re.match(r"^cpu(\d+)\s+(.*)$", line)
            if match:
                per_cpu[int(match.group(1))] = [int(x) for x in match.group(2).split()]
        with m.lock:
            online = sorted(m.online)
            irq_counts = {n: sum(irq.counts) for n, irq in m.irqs.items()}
        out = []
        for line in real:
            if re.match(r"^cpu\d+\s", line):
                continue
            if line.startswith("cpu "):
                rows = [per_cpu.get(self.base_cpu(c), []) for c in online]
                total = [sum(col) for col in zip(*rows)] if rows else []
                out.append("cpu  " + " ".join(str(v) for v in total))
                out += ["cpu%d %s" % (c, " ".join(str(v) for v in row)) for c, row in zip(online, rows)]
            elif line.startswith("intr "):
                top = max(irq_counts) if irq_counts else 0
                values = [irq_counts.get(i, 0) for i in range(top + 1)]
                out.append("intr %d %s" % (sum(values), " ".join(str(v) for v in values)))
            else:
                out.append(line)
        return "\n".join(out) + "\n"

    # eth1 and its device ----------------------------------------------------------------------

    def eth1_dir(self):
        nic = self.prof["nic"]
        link = Link("../../../" + nic["device_path"])
        masks = {}
        return RealDir("/sys/devices/virtual/net/" + NIC, writable=True, extra=lambda: {"device": link},
                       mods=lambda name, real: self.queues_dir(real, masks) if name == "queues" and isinstance(real, RealDir) else real)

    def queues_dir(self, real, masks):
        """The veth's real queues (ethtool -L creates and removes them), with rps_cpus and xps_cpus
        over the emulated CPUs: the real kernel takes only the VM's own CPUs (EOVERFLOW above
        nr_cpu_ids). As the kernel: bitmap_parse() errors (EINVAL, EOVERFLOW), only online CPUs
        kept, and a queue removed and created again starts from what the real file shows (its
        settings were freed with it; a new queue's kernel object has a new inode)."""
        m = self.m

        def queue(qname, qreal):
            attr = {"rx": "rps_cpus", "tx": "xps_cpus"}.get(qname.split("-")[0])
            if attr is None or not isinstance(qreal, RealDir):
                return qreal
            path = os.path.join(qreal.path, attr)

            def key():
                return (qname, os.lstat(qreal.path).st_ino)

            def read():
                if attr == "xps_cpus" and qname in read_tx_unmapped(self.hdir):
                    raise _err(errno.EINVAL)
                with m.lock:
                    k = key()
                    if k not in masks:
                        with open(path) as f:
                            masks[k] = parse_mask(f.read(), 1 << 13)
                    return fmt_mask(masks[k], m.ncpu) + "\n"

            def write(t):
                cpus = parse_mask(t, m.ncpu)
                if attr == "rps_cpus" and cpus:
                    # rps_cpumask_housekeeping(): RPS stays off isolcpus= and nohz_full= CPUs; none left is EINVAL.
                    isolated, nohz = read_isolation(self.hdir)
                    cpus = cpus - isolated - nohz
                    if not cpus:
                        raise _err(errno.EINVAL)
                with m.lock:
                    masks[key()] = cpus & m.online

            return RealDir(qreal.path, True, mods=lambda f, r: File(read, write) if f == attr and isinstance(r, Real) else r)

        return RealDir(real.path, True, mods=queue)

    def pci_root(self):
        nic = self.prof["nic"]
        if nic["kind"] == "pci":
            fn = self.pci_function(nic["bdf"], nic["vendor"], nic["device"], "0x020000", nic["numa_node"],
                                   nic["msi_irqs"], depth=5, extra={})
            bridge = self.pci_function(nic["bridge"], "0x8086", "0x2030", "0x060400", nic["numa_node"], [], depth=4,
                                       extra={nic["bdf"]: fn})
            added = {nic["bridge"]: bridge}
        else:
            virtio = Dir({
                "device": File(text("0x0001\n")), "vendor": File(text(nic["vendor"] + "\n")),
                "features": File(text("1100011111111111111111110001110000000000000000000000000000000000\n")),
                "status": File(text("0x0000000f\n")), "modalias": File(text("virtio:d00000001v00001AF4\n")),
                "uevent": File(text("DRIVER=virtio_net\nMODALIAS=virtio:d00000001v00001AF4\n"), lambda t: None),
                "subsystem": Link("../../../../bus/virtio"),
                "driver": Link("../../../../bus/virtio/drivers/virtio_net"),
                "power": Dir({}),
            })
            fn = self.pci_function(nic["slot"], nic["vendor"], nic["device"], "0x020000", nic["numa_node"],
                                   nic["msi_irqs"], depth=4, extra={nic["virtio"]: virtio})
            added = {nic["slot"]: fn}
        return RealPciDir(REAL_PCI_ROOT, extra=lambda: added)

    def pci_bus_devices(self):
        """/sys/bus/pci/devices: the real links plus the emulated functions."""
        nic = self.prof["nic"]
        if nic["kind"] == "pci":
            added = {nic["bridge"]: "pci0000:00/" + nic["bridge"], nic["bdf"]: nic["device_path"]}
        else:
            added = {nic["slot"]: "pci0000:00/" + nic["slot"]}
        links = {name: Link("../../../devices/" + path) for name, path in added.items()}
        return RealDir("/sys/bus/pci/devices", extra=lambda: links)

    def pci_function(self, bdf, vendor, device, klass, numa, msi, depth, extra):
        m = self.m
        up = "../" * (depth - 1)  # from /sys/devices/pci0000:00/.../BDF up to /sys

        def local(lst):
            def read():
                with m.lock:
                    cpus = m.present if numa < 0 else set(self.prof["numa_cpus"].get(str(numa), m.present))
                    return (fmt_list(cpus) if lst else fmt_mask(cpus, m.ncpu)) + "\n"
            return File(read)

        entries = {
            "vendor": File(text(vendor + "\n")), "device": File(text(device + "\n")), "class": File(text(klass + "\n")),
            "subsystem_vendor": File(text(vendor + "\n")), "subsystem_device": File(text("0x0000\n")),
            "revision": File(text("0x01\n")), "numa_node": File(text("%d\n" % numa), lambda t: None),
            "local_cpus": local(False), "local_cpulist": local(True), "enable": File(text("1\n"), lambda t: None),
            "irq": File(text("0\n")), "msi_bus": File(text("1\n"), lambda t: None),
            "uevent": File(text("PCI_CLASS=%s\nPCI_ID=%s:%s\nPCI_SLOT_NAME=%s\n" % (klass[2:].lstrip("0").upper(), vendor[2:].upper(),
                                                                                device[2:].upper(), bdf)), lambda t: None),
            "subsystem": Link(up + "bus/pci"),
            "power": Dir({}),
        }
        if msi:
            entries["msi_irqs"] = Dir({str(i): File(text("msix\n")) for i in msi})
        entries.update(extra)
        return Dir(entries)


# ----------------------------------------------------------------------------------- the FUSE fs


def serve(hdir):
    import logging
    from fusepy import FUSE, FuseOSError, Operations

    logging.basicConfig(level=logging.WARNING, format="hw.py: %(message)s")
    tree = Tree(hdir)
    mnt = os.path.join(hdir, "hw.mnt")
    handles = {}
    counter = [0]
    hlock = threading.Lock()

    def fail(code):
        raise FuseOSError(code)

    def node_at(path):
        try:
            return tree.lookup(path)
        except OSError as e:
            fail(e.errno)

    class Ops(Operations):
        use_ns = False

        def getattr(self, path, fh=None):
            node = node_at(path)
            try:
                return node.attr()
            except OSError as e:
                fail(e.errno)

        def readdir(self, path, fh):
            node = node_at(path)
            if node.kind != "dir":
                fail(errno.ENOTDIR)
            return [".", ".."] + [(name, {"st_mode": mode}, 0) for name, mode in node.names()]

        def readlink(self, path):
            node = node_at(path)
            if node.kind != "link":
                fail(errno.EINVAL)
            return node.target

        def open(self, path, flags):
            node = node_at(path)
            if node.kind == "dir":
                fail(errno.EISDIR)
            writing = (flags & os.O_ACCMODE) != os.O_RDONLY
            handle = {"node": node, "buf": None, "fd": None}
            if isinstance(node, Real):
                if writing and not node.writable:
                    fail(errno.EACCES)
                try:
                    handle["fd"] = os.open(node.path, flags & (os.O_ACCMODE | os.O_NONBLOCK))
                except OSError as e:
                    fail(e.errno)
            elif writing and node.write is None and not node.proc:
                fail(errno.EACCES)
            with hlock:
                counter[0] += 1
                handles[counter[0]] = handle
                return counter[0]

        def read(self, path, size, offset, fh):
            handle = handles.get(fh)
            if handle is None:
                fail(errno.EBADF)
            if handle["fd"] is not None:
                try:
                    return os.pread(handle["fd"], size, offset)
                except OSError as e:
                    fail(e.errno)
            if handle["buf"] is None or offset == 0:
                try:
                    handle["buf"] = handle["node"].read().encode()
                except OSError as e:
                    fail(e.errno)
            return handle["buf"][offset:offset + size]

        def write(self, path, data, offset, fh):
            handle = handles.get(fh)
            if handle is None:
                fail(errno.EBADF)
            if handle["fd"] is not None:
                try:
                    return os.write(handle["fd"], data)
                except OSError as e:
                    fail(e.errno)
            node = handle["node"]
            if node.write is None:
                fail(errno.EIO)
            try:
                node.write(data.decode("utf-8", "replace"))
            except OSError as e:
                fail(e.errno)
            return len(data)

        def truncate(self, path, length, fh=None):
            return 0  # sysfs and procfs ignore O_TRUNC

        def release(self, path, fh):
            with hlock:
                handle = handles.pop(fh, None)
            if handle and handle["fd"] is not None:
                os.close(handle["fd"])
            return 0

        def create(self, path, mode, fi=None):
            fail(errno.ENOENT if path.startswith("/irq") else errno.EACCES)

        def mkdir(self, path, mode):
            fail(errno.EPERM)

        def unlink(self, path):
            fail(errno.EPERM)

        def rmdir(self, path):
            fail(errno.EPERM)

        def rename(self, old, new):
            fail(errno.EPERM)

        def symlink(self, target, source):
            fail(errno.EPERM)

        def chmod(self, path, mode):
            fail(errno.EPERM)

        def chown(self, path, uid, gid):
            fail(errno.EPERM)

        def utimens(self, path, times=None):
            return 0

        def statfs(self, path):
            return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 0, "f_bfree": 0, "f_bavail": 0, "f_namemax": 255}

    os.makedirs(mnt, exist_ok=True)
    FUSE(Ops(), mnt, foreground=True, allow_other=True, default_permissions=True, fsname="plt-lab-hw",
         subtype="plt-lab-hw", attr_timeout=0, entry_timeout=0, negative_timeout=0, direct_io=True)


# ----------------------------------------------------------------------------------- ethtool

RING_WORDS = ["rx", "rx-mini", "rx-jumbo", "tx", "rx-buf-len", "cqe-size", "tx-push"]
RING_BOOL = {"tx-push"}
# Coalescing words in the kernel's ETHTOOL_A_COALESCE_* attribute order (validation order).
COALESCE_ATTRS = ["rx-usecs", "rx-frames", "rx-usecs-irq", "rx-frames-irq", "tx-usecs", "tx-frames", "tx-usecs-irq",
                  "tx-frames-irq", "stats-block-usecs", "adaptive-rx", "adaptive-tx", "pkt-rate-low", "rx-usecs-low",
                  "rx-frames-low", "tx-usecs-low", "tx-frames-low", "pkt-rate-high", "rx-usecs-high", "rx-frames-high",
                  "tx-usecs-high", "tx-frames-high", "sample-interval", "cqe-mode-tx", "cqe-mode-rx"]
COALESCE_BOOL = {"adaptive-rx", "adaptive-tx", "cqe-mode-rx", "cqe-mode-tx"}


class EthtoolExit(Exception):
    def __init__(self, code, stderr=""):
        super().__init__(code)
        self.code = code
        self.stderr = stderr


def c_strtou32(arg):
    """ethtool's parse_u32: strtoull(arg, &end, 0), the whole word, at most UINT_MAX."""
    s = arg.lstrip(" \t\n\v\f\r")
    neg = False
    if s[:1] in "+-" and s:
        neg = s[0] == "-"
        s = s[1:]
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", s):
        v = int(s, 16)
    elif re.fullmatch(r"0[0-7]*", s):
        v = int(s, 8)
    elif re.fullmatch(r"[1-9][0-9]*", s):
        v = int(s)
    else:
        return None
    if neg and v:
        v = 2 ** 64 - v
    return v if v <= 0xFFFFFFFF else None


def parse_params(opt, args, words, bools):
    """ethtool's nl_parser(): word/value pairs, in order; messages and exit code 1 as ethtool 6.1."""
    seen = []
    values = {}
    i = 0
    while i < len(args):
        word = args[i]
        if word not in words:
            raise EthtoolExit(1, "ethtool (%s): unknown parameter '%s'\n" % (opt, word))
        if word in values:
            raise EthtoolExit(1, "ethtool (%s): duplicate parameter '%s'\n" % (opt, word))
        if i + 1 >= len(args):
            raise EthtoolExit(1, "ethtool (%s): no value for parameter '%s'\n" % (opt, word))
        raw = args[i + 1]
        if word in bools:
            if raw not in ("on", "off"):
                raise EthtoolExit(1, "ethtool (%s): invalid value '%s' for parameter '%s'\n" % (opt, raw, word))
            value = 1 if raw == "on" else 0
        else:
            value = c_strtou32(raw)
            if value is None:
                raise EthtoolExit(1, "ethtool (%s): invalid value '%s' for parameter '%s'\n" % (opt, raw, word))
        values[word] = value
        seen.append(word)
        i += 2
    return seen, values


def attr_offset(ifname, index):
    """Offset of the index-th parameter attribute in the request, as ethtool prints it with an
    extack: nlmsghdr 16 + genlmsghdr 4 + header nest (4 + dev name attr) + 8 per earlier attr."""
    name_attr = (4 + len(ifname) + 1 + 3) // 4 * 4
    return 16 + 4 + 4 + name_attr + 8 * index


def netlink_error(msg, code, ifname=None, attr_index=None):
    text = ""
    if msg:
        text += "netlink error: %s" % msg
        if attr_index is not None:
            text += " (offset %d)" % attr_offset(ifname, attr_index)
        text += "\n"
    return text + "netlink error: %s\n" % os.strerror(code)


class Nic:
    """The NIC's ring and coalescing state, under flock (shared for reading: users other than
    root may show rings; only root may change them, as with CAP_NET_ADMIN)."""

    def __init__(self, hdir, write=False):
        self.hdir = hdir
        self.write = write
        self.prof = load_profile(hdir)["nic"]
        self.path = os.path.join(hdir, "hw", "nic.json")

    def __enter__(self):
        self.lockf = open(self.path + ".lock", "a" if self.write else "r")
        fcntl.flock(self.lockf, fcntl.LOCK_EX if self.write else fcntl.LOCK_SH)
        with open(self.path) as f:
            self.state = json.load(f)
        return self

    def save(self):
        write_json(self.path, self.state)

    def __exit__(self, *exc):
        fcntl.flock(self.lockf, fcntl.LOCK_UN)
        self.lockf.close()


def show_rings(hdir, ifname):
    with Nic(hdir) as nic:
        mx = nic.prof["rings"]["max"]
        cur = nic.state["rings"]

    def val(d, k, present):
        return str(d[k]) if present(k) else "n/a"

    has = lambda k: mx[k] > 0  # noqa: E731  the kernel omits unsupported (zero-max) rings
    lines = ["Ring parameters for %s:" % ifname, "Pre-set maximums:",
             "RX:\t\t" + val(mx, "rx", has), "RX Mini:\t" + val(mx, "rx-mini", has),
             "RX Jumbo:\t" + val(mx, "rx-jumbo", has), "TX:\t\t" + val(mx, "tx", has),
             "Current hardware settings:",
             "RX:\t\t" + val(cur, "rx", has), "RX Mini:\t" + val(cur, "rx-mini", has),
             "RX Jumbo:\t" + val(cur, "rx-jumbo", has), "TX:\t\t" + val(cur, "tx", has),
             "RX Buf Len:\t\tn/a", "CQE Size:\t\tn/a", "TX Push:\toff", "TCP data split:\tn/a"]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def set_rings(hdir, ifname, args):
    order, values = parse_params("-G", args, RING_WORDS, RING_BOOL)
    if os.geteuid() != 0:
        raise EthtoolExit(81, netlink_error(None, errno.EPERM))
    # A driver whose ring change never returns (firmware that stopped answering): the fault suite
    # creates hw/stall-ring-change; the change waits, changing nothing, until it is gone.
    while os.path.exists(os.path.join(hdir, "hw", "stall-ring-change")):
        time.sleep(0.2)
    with Nic(hdir, write=True) as nic:
        rp = nic.prof["rings"]
        # ethnl_set_rings_validate(): features this driver does not have
        for word, msg in (("rx-buf-len", "setting rx buf len not supported"), ("cqe-size", "setting cqe size not supported"),
                          ("tx-push", "setting tx push not supported")):
            if word in values:
                raise EthtoolExit(81, netlink_error(msg, errno.EOPNOTSUPP, ifname, order.index(word)))
        cur = dict(nic.state["rings"])
        new = dict(cur)
        new.update({k: v for k, v in values.items() if k in cur})
        if new == cur:
            return 0
        for word in ("rx", "rx-mini", "rx-jumbo", "tx"):
            if new[word] > rp["max"][word]:
                raise EthtoolExit(81, netlink_error("requested ring size exceeds maximum", errno.EINVAL, ifname,
                                                    order.index(word)))
        # the driver
        if rp.get("pow2"):
            for word in ("rx", "tx"):
                if new[word] != cur[word] and (new[word] == 0 or new[word] & (new[word] - 1)):
                    raise EthtoolExit(81, netlink_error(None, errno.EINVAL))
        else:
            for word in ("rx", "tx"):
                v = min(max(new[word], rp["min"]), rp["max"][word])
                new[word] = (v + rp["align"] - 1) // rp["align"] * rp["align"]
        if new == cur:
            return 0
        nic.state["rings"] = new
        nic.save()
        queue_irqs = nic.prof["queue_irqs"]
    realloc_irqs(queue_irqs)
    return 0


def show_coalesce(hdir, ifname):
    with Nic(hdir) as nic:
        supported = set(nic.prof["coalesce"]["supported"])
        cur = nic.state["coalesce"]

    def v(word):
        return str(cur[word]) if word in supported else "n/a"

    def b(word):
        return ("on" if cur[word] else "off") if word in supported else "n/a"

    lines = ["Coalesce parameters for %s:" % ifname,
             "Adaptive RX: %s  TX: %s" % (b("adaptive-rx"), b("adaptive-tx")),
             "stats-block-usecs: " + v("stats-block-usecs"), "sample-interval: " + v("sample-interval"),
             "pkt-rate-low: " + v("pkt-rate-low"), "pkt-rate-high: " + v("pkt-rate-high"), "",
             "rx-usecs: " + v("rx-usecs"), "rx-frames: " + v("rx-frames"),
             "rx-usecs-irq: " + v("rx-usecs-irq"), "rx-frames-irq: " + v("rx-frames-irq"), "",
             "tx-usecs: " + v("tx-usecs"), "tx-frames: " + v("tx-frames"),
             "tx-usecs-irq: " + v("tx-usecs-irq"), "tx-frames-irq: " + v("tx-frames-irq"), "",
             "rx-usecs-low: " + v("rx-usecs-low"), "rx-frame-low: " + v("rx-frames-low"),
             "tx-usecs-low: " + v("tx-usecs-low"), "tx-frame-low: " + v("tx-frames-low"), "",
             "rx-usecs-high: " + v("rx-usecs-high"), "rx-frame-high: " + v("rx-frames-high"),
             "tx-usecs-high: " + v("tx-usecs-high"), "tx-frame-high: " + v("tx-frames-high"), "",
             "CQE mode RX: %s  TX: %s" % (b("cqe-mode-rx"), b("cqe-mode-tx")), ""]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def set_coalesce(hdir, ifname, args):
    order, values = parse_params("-C", args, COALESCE_ATTRS, COALESCE_BOOL)
    if os.geteuid() != 0:
        raise EthtoolExit(1, netlink_error(None, errno.EPERM))
    with Nic(hdir, write=True) as nic:
        cp = nic.prof["coalesce"]
        supported = set(cp["supported"])
        # ethnl_set_coalesce_validate(): the first unsupported attribute, in attribute order
        for word in COALESCE_ATTRS:
            if word in values and word not in supported:
                raise EthtoolExit(1, netlink_error("cannot modify an unsupported parameter", errno.EINVAL, ifname,
                                                   order.index(word)))
        cur = dict(nic.state["coalesce"])
        new = dict(cur)
        new.update(values)
        if new == cur:
            return 0
        # i40e, ice and iavf: "RX interrupt moderation cannot be changed if adaptive-rx is enabled."
        for direction in ("rx", "tx") if cp.get("adaptive_pins_usecs") else ():
            if new.get("adaptive-" + direction) and new.get(direction + "-usecs") != cur.get(direction + "-usecs"):
                raise EthtoolExit(1, netlink_error(None, errno.EINVAL))
        for word, value in new.items():
            limit = cp.get("max_usecs") if word.endswith("usecs") else cp.get("max_frames") if word.endswith("frames") else None
            if limit is not None and value > limit:
                raise EthtoolExit(1, netlink_error(None, errno.EINVAL))
        nic.state["coalesce"] = new
        nic.save()
    return 0


def realloc_irqs(irqs):
    """What request_irq() leaves: each queue vector's affinity back to the default mask."""
    try:
        with open("/proc/irq/default_smp_affinity") as f:
            default = f.read()
    except OSError:
        return
    for irq in irqs:
        try:
            with open("/proc/irq/%d/smp_affinity" % irq, "w") as f:
                f.write(default)
        except OSError:
            pass


def real_ethtool(hdir):
    """LAB_DIR/bin/ethtool, HOST_DIR being LAB_DIR/hosts/hN."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(hdir))), "bin", "ethtool")


def channels_now(real, ifname):
    out = subprocess.run([real, "-l", ifname], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return out[out.find("Current hardware settings:"):]


def cmd_ethtool(hdir, args):
    real = real_ethtool(hdir)
    if len(args) >= 2 and args[1] == NIC:
        opt, rest = args[0], args[2:]
        try:
            if opt in ("-g", "--show-ring") and not rest:
                return show_rings(hdir, NIC)
            if opt in ("-G", "--set-ring"):
                return set_rings(hdir, NIC, rest)
            if opt in ("-c", "--show-coalesce") and not rest:
                return show_coalesce(hdir, NIC)
            if opt in ("-C", "--coalesce"):
                return set_coalesce(hdir, NIC, rest)
        except EthtoolExit as e:
            sys.stderr.write(e.stderr)
            return e.code
        if opt in ("-L", "--set-channels"):
            before = channels_now(real, NIC)
            rc = subprocess.run([real] + args).returncode
            if rc == 0 and channels_now(real, NIC) != before:
                realloc_irqs(load_profile(hdir)["nic"]["queue_irqs"])
            return rc
    os.execv(real, ["ethtool"] + args)


# ----------------------------------------------------------------------------- kernel modules
#
# The lab kernel has no module support (no /proc/modules, no modprobe, no /lib/modules; bbr is
# built in). Each host gets its own module catalogue (HOST_DIR/hw/modules.json) and, layered over
# /usr in its mount namespace only (boot-ns.sh), modprobe, rmmod and lsmod (this program) and
# /usr/lib/modules/RELEASE/{modules.dep,modules.builtin}. Loaded modules show in /sys/module
# (initstate, refcnt, holders/, parameters/), which is where kmod reads a module's state; the
# real /proc/modules cannot be emulated (procfs takes no new files), so it stays absent. bbr is
# treated as the module tcp_bbr: tcp_available_congestion_control lists it, and
# tcp_congestion_control accepts it (else ENOENT, as the kernel answers), only while tcp_bbr is
# loaded; while bbr is the host's default, tcp_bbr is in use (refcnt 1), as in the kernel.
# modprobe reads /etc/modprobe.d as kmod does for `options` and `install` (the command runs
# instead of the insert; `-n -v` prints it), and a refused insert leaves the dependencies it
# had inserted loaded.

def module_catalogue():
    """name -> {path, deps, params: {name: [type, default, mode?]}}; built-ins listed apart. A
    parameter is 0444 (set only at load) unless its mode says it can be written at run time."""
    mods = {
        "tcp_bbr": {"path": "kernel/net/ipv4/tcp_bbr.ko", "deps": [], "params": {}},
        "inet_diag": {"path": "kernel/net/ipv4/inet_diag.ko", "deps": [], "params": {}},
        "tcp_diag": {"path": "kernel/net/ipv4/tcp_diag.ko", "deps": ["inet_diag"], "params": {}},
        "udp_diag": {"path": "kernel/net/ipv4/udp_diag.ko", "deps": ["inet_diag"], "params": {}},
        "dummy": {"path": "kernel/drivers/net/dummy.ko", "deps": [], "params": {"numdummies": ["int", "1"]}},
        # A link kind's module, whose devices hold no reference (the real one also needs stp and llc): rmmod would
        # take, and here takes, its bridges with it. The lab kernel's own bridge code makes the devices.
        "bridge": {"path": "kernel/net/bridge/bridge.ko", "deps": [], "params": {}},
        # Parameters writable at run time (tcp_htcp.c: module_param(use_rtt_scaling, int, 0644), and use_bandwidth_switch).
        "tcp_htcp": {"path": "kernel/net/ipv4/tcp_htcp.ko", "deps": [], "params": {"use_bandwidth_switch": ["int", "1", 0o644], "use_rtt_scaling": ["int", "1", 0o644]}},
        # A dependency with a parameter (ip_vs_conn.c's conn_tab_bits, 0444): loaded by ip_vs_rr's load, it takes options from modprobe.d only.
        # ip_vs_conn_init clamps it to [8, what the host's memory allows] and the parameter reads back the clamped value.
        "ip_vs": {"path": "kernel/net/netfilter/ipvs/ip_vs.ko", "deps": [], "params": {"conn_tab_bits": ["int", "12"]}, "clamp": {"conn_tab_bits": [8, 20]}},
        "ip_vs_rr": {"path": "kernel/net/netfilter/ipvs/ip_vs_rr.ko", "deps": ["ip_vs"], "params": {}},
        # A module with a parameter and a dependency (the real one has nf_nat and nf_conntrack too): a
        # bad value fails its own insert after ip_vs went in, and ip_vs stays, as kmod leaves it.
        "ip_vs_ftp": {"path": "kernel/net/netfilter/ipvs/ip_vs_ftp.ko", "deps": ["ip_vs"], "params": {"ports": ["ushort_array", "21"]}},
    }
    # What the real kernel has built in (it shows in the real /sys/module).
    builtin = {"nf_conntrack": "kernel/net/netfilter/nf_conntrack.ko", "nf_conntrack_ftp": "kernel/net/netfilter/nf_conntrack_ftp.ko",
               "tcp_cubic": "kernel/net/ipv4/tcp_cubic.ko"}
    # modules.alias: what `ip link add type dummy` asks modprobe for (dummy.c's MODULE_ALIAS_RTNL_LINK; br_device.c's).
    aliases = {"rtnl-link-dummy": "dummy", "rtnl-link-bridge": "bridge"}
    return {"release": os.uname().release, "modules": mods, "builtin": builtin, "aliases": aliases, "loaded": {}}


def resolve_alias(st, name):
    """The module an alias stands for (kmod matches aliases with - and _ alike); a module name stays."""
    aliases = {a.replace("-", "_"): m for a, m in st.get("aliases", {}).items()}
    return aliases.get(name.replace("-", "_"), name.replace("-", "_"))


def init_modules(hdir):
    cat = module_catalogue()
    hw = os.path.join(hdir, "hw")
    write_json(os.path.join(hw, "modules.json"), cat)
    with open(os.path.join(hw, "modules.json.lock"), "a"):
        pass
    libdir = os.path.join(hw, "usr", "lib", "modules", cat["release"])
    sbin = os.path.join(hw, "usr", "sbin")
    os.makedirs(libdir, exist_ok=True)
    os.makedirs(sbin, exist_ok=True)
    for d in (os.path.join(hw, "usr"), os.path.join(hw, "usr", "lib"), os.path.join(hw, "usr", "lib", "modules"), libdir, sbin):
        os.chmod(d, 0o755)
    write_modules_dep(hdir, cat)
    with open(os.path.join(libdir, "modules.builtin"), "w") as f:
        f.write("".join(p + "\n" for p in sorted(cat["builtin"].values())))
    with open(os.path.join(libdir, "modules.alias"), "w") as f:
        f.write("".join("alias %s %s\n" % a for a in sorted(cat["aliases"].items())))
    me = os.path.abspath(__file__)
    for tool in ("modprobe", "rmmod", "lsmod", "modinfo"):
        path = os.path.join(sbin, tool)
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexec /usr/bin/python3 -I '%s' %s '%s' \"$@\"\n" % (me, tool, hdir))
        os.chmod(path, 0o755)


def write_modules_dep(hdir, cat):
    with open(os.path.join(hdir, "hw", "usr", "lib", "modules", cat["release"], "modules.dep"), "w") as f:
        for m in cat["modules"].values():
            f.write("%s:%s\n" % (m["path"], "".join(" " + cat["modules"][d]["path"] for d in m["deps"])))


def traffic_file(hdir):
    return os.path.join(hdir, "hw", "traffic")


def read_traffic(hdir):
    """(interrupts per second per queue, when that was set); (0, 0) without traffic."""
    try:
        with open(traffic_file(hdir)) as f:
            return float(f.read().strip() or 0), os.fstat(f.fileno()).st_mtime
    except (OSError, ValueError):
        return 0.0, 0.0


def cmd_traffic(hdir, rate):
    """Sets the NIC's traffic: RATE interrupts a second on each queue IRQ, from now."""
    if not re.fullmatch(r"\d+(\.\d+)?", rate):
        raise SystemExit("hw.py: traffic takes interrupts per second, a number: %r" % rate)
    tmp = traffic_file(hdir) + ".tmp"
    with open(tmp, "w") as f:
        f.write(rate + "\n")
    os.replace(tmp, traffic_file(hdir))
    return 0


def isolation_file(hdir):
    return os.path.join(hdir, "hw", "isolation.json")


def read_isolation(hdir):
    """(isolcpus CPUs, nohz_full CPUs) the host booted with; none unless boot-isolated said."""
    try:
        with open(isolation_file(hdir)) as f:
            d = json.load(f)
        return set(d["isolated"]), set(d["nohz_full"])
    except FileNotFoundError:
        return set(), set()


def tx_unmapped_file(hdir):
    return os.path.join(hdir, "hw", "tx-unmapped.json")


def read_tx_unmapped(hdir):
    """The tx queues in no traffic class; none unless tx-unmapped said."""
    try:
        with open(tx_unmapped_file(hdir)) as f:
            return set(json.load(f))
    except FileNotFoundError:
        return set()


def cmd_tx_unmapped(hdir, queues):
    """Tx queues left out of every traffic class (the daemon reads this file on every access)."""
    names = queues.split()
    if any(not re.fullmatch(r"tx-[0-9]+", q) for q in names):
        raise SystemExit("hw.py: tx-unmapped takes tx queue names: %r" % queues)
    write_json(tx_unmapped_file(hdir), names)
    return 0


def cmd_boot_isolated(hdir, isolated, nohz_full):
    """The host as booted with isolcpus= and nohz_full= (the daemon reads this file on every access)."""
    lists = {}
    for name, text in (("isolated", isolated), ("nohz_full", nohz_full)):
        try:
            lists[name] = sorted(parse_list(text, 1 << 13)) if text else []
        except OSError:
            raise SystemExit("hw.py: %s takes a CPU list: %r" % (name, text))
    write_json(isolation_file(hdir), lists)
    return 0


def cmd_kernel_without(hdir, name):
    """The host's kernel loses a module, as one built without it: the "module unavailable" case."""
    with Modules(hdir, write=True) as mods:
        st = mods.state
        if name in st["loaded"] or any(name in m["deps"] for m in st["modules"].values()):
            raise SystemExit("hw.py: %s is loaded or needed by another module" % name)
        st["modules"].pop(name, None)
        mods.save()
        write_modules_dep(hdir, st)
    return 0


def cmd_module_held(hdir, name, switch):
    """MODULE taken into use by something on the host as soon as it loads (on), or let go (off)."""
    with Modules(hdir, write=True) as mods:
        st = mods.state
        held = [m for m in st.get("held", []) if m != name]
        st["held"] = held + [name] if switch == "on" else held
        if switch == "off" and name in st["loaded"]:
            st["loaded"][name]["holders"] = [h for h in st["loaded"][name]["holders"] if h != "lab_user"]
        mods.save()
    return 0


def cmd_module_slow(hdir, name, seconds):
    """MODULE's load takes SECONDS, the host's other loads going ahead meanwhile."""
    with Modules(hdir, write=True) as mods:
        mods.state.setdefault("slow", {})[name] = seconds
        mods.save()
    return 0


class Modules(Nic):
    """The host's module state (HOST_DIR/hw/modules.json), under flock as the NIC's state is."""

    def __init__(self, hdir, write=False):
        self.path = os.path.join(hdir, "hw", "modules.json")
        self.write = write


CC_FILE = "/proc/sys/net/ipv4/tcp_congestion_control"
CC_AVAILABLE_FILE = "/proc/sys/net/ipv4/tcp_available_congestion_control"


def real_cc():
    with open(CC_FILE) as f:
        return f.read().strip()


# Congestion controls the real kernel has built in that the lab treats as modules. A host whose
# catalogue lacks the module (hw.py kernel-without) has no such algorithm at all.
CC_MODULES = {"bbr": "tcp_bbr"}


def gated_cc(state):
    """Congestion control name -> the module that provides it, and whether it is loaded."""
    return {cc: (name, name in state["loaded"]) for cc, name in CC_MODULES.items()}


def module_refcnt(state, name):
    """Holders, plus the default congestion control's reference on its module."""
    gated = gated_cc(state)
    cc = real_cc()
    return len(state["loaded"][name]["holders"]) + (1 if gated.get(cc, (None,))[0] == name else 0)


def module_nodes(hdir):
    """FUSE nodes: /sys/module with the emulated modules, and the two congestion-control files."""
    with Modules(hdir) as mods:
        state = mods.state
    # Boot: bbr is the VM's (and so a new netns's) default, but tcp_bbr is not loaded here: the
    # host starts with reno, the one algorithm always built in that a netns may set.
    if gated_cc(state).get(real_cc(), (None, True))[1] is False:
        with open(CC_FILE, "w") as f:
            f.write("reno\n")

    def current():
        with Modules(hdir) as m:
            return m.state

    def param_file(name, param, value, spec):
        """/sys/module/NAME/parameters/P: 0444, or written through the type's parser (EINVAL when it refuses)."""
        mode = spec[2] if len(spec) > 2 else 0o444

        def write(data):
            new = data.strip()
            if not check_param(spec[0], new):
                raise _err(errno.EINVAL)
            with Modules(hdir, write=True) as mods:
                mods.state["loaded"][name]["params"][param] = kernel_form(spec[0], new)
                mods.save()
        return File(text(value + "\n"), write if mode & 0o200 else None, mode=mode)

    def module_dir(name):
        def entries():
            st = current()
            info = st["loaded"].get(name)
            if info is None:
                return {}
            declared = st["modules"].get(name, {}).get("params", {})
            params = Dir({p: param_file(name, p, v, declared.get(p, ["", "", 0o444])) for p, v in info["params"].items()})
            return {"initstate": File(text("live\n")), "refcnt": File(lambda: "%d\n" % module_refcnt(current(), name)),
                    "holders": Dir({h: Link("../../" + h) for h in info["holders"]}), "parameters": params,
                    "coresize": File(text("16384\n")), "taint": File(text("\n")),
                    "uevent": File(text(""), lambda t: None)}
        return Dir(entries)

    def extra():
        return {name: module_dir(name) for name in current()["loaded"]}

    def hide(name):
        return name in current()["modules"]

    def available():
        st = current()
        hidden = {cc for cc, (_, loaded) in gated_cc(st).items() if not loaded}
        with open(CC_AVAILABLE_FILE) as f:
            names = [n for n in f.read().split() if n not in hidden]
        return " ".join(names) + "\n"

    def cc_write(t):
        words = t.split()
        name = words[0] if words else ""
        if gated_cc(current()).get(name, (None, True))[1] is False:
            raise _err(errno.ENOENT)  # tcp_ca_find_autoload() finds no such algorithm
        with open(CC_FILE, "w") as f:
            f.write(t)

    return {"module": RealDir("/sys/module", extra=extra, hide=hide),
            "tcp_available_congestion_control": File(available, proc=True),
            "tcp_congestion_control": File(lambda: real_cc() + "\n", cc_write, proc=True)}


class ModExit(Exception):
    def __init__(self, code, stderr=""):
        super().__init__(code)
        self.code = code
        self.stderr = stderr


KERNEL_INTEGER = r"[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)"


def kernel_form(ptype, value):
    """What /sys/module/NAME/parameters/P reads back: the kernel prints its own form (param_get_*),
    an integer in decimal and a bool as Y or N, whatever spelling set it."""
    if ptype in ("int", "uint"):
        return str(int(value, 0) if not re.fullmatch(r"[+-]?0[0-7]+", value) else int(value, 8))
    if ptype == "bool":
        return "Y" if value in ("y", "Y", "1", "on", "") else "N"
    if ptype == "ushort_array":
        return ",".join(str(int(v, 0) if not re.fullmatch(r"0[0-7]+", v) else int(v, 8)) for v in value.split(","))
    return value


def check_param(ptype, value):
    """The kernel's param_set_* parsers: a value they reject fails the load with EINVAL."""
    if ptype in ("int", "uint"):
        if not re.fullmatch(KERNEL_INTEGER, value) or (ptype == "uint" and value.startswith("-")):
            return False
    elif ptype == "bool":
        return value in ("y", "Y", "n", "N", "1", "0", "on", "off", "")
    elif ptype == "ushort_array":
        # module_param_array's count too: ip_vs_ftp holds IP_VS_APP_MAX_PORTS (8), which modinfo does not show.
        values = value.split(",")
        return len(values) <= 8 and all(re.fullmatch(r"[0-9]+", v) and int(v) < 65536 for v in values)
    return True


def config_lines(command, name):
    """The words after `COMMAND NAME` on each such line of /etc/modprobe.d/*.conf, in modprobe's file order."""
    found = []
    try:
        files = sorted(f for f in os.listdir("/etc/modprobe.d") if f.endswith(".conf"))
    except OSError:
        files = []
    for f in files:
        try:
            with open(os.path.join("/etc/modprobe.d", f)) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) >= 2 and parts[0] == command and parts[1].replace("-", "_") == name:
                        found.append(line.split(None, 2)[2].strip() if len(parts) > 2 else "")
        except OSError:
            pass
    return found


def config_options(name):
    """`options NAME words`, as modprobe merges them before the command line's."""
    return [w for line in config_lines("options", name) for w in line.split()]


def config_install(name):
    """`install NAME COMMAND`: what modprobe runs instead of inserting NAME (the first such line)."""
    commands = config_lines("install", name)
    return commands[0] if commands else None


def insert_module(st, name, words):
    """Loads name (its dependencies first); EINVAL for a parameter value its type rejects."""
    mod = st["modules"][name]
    for dep in mod["deps"]:
        if dep not in st["loaded"]:
            insert_module(st, dep, config_options(dep))
    params = {p: t[1] for p, t in mod["params"].items()}
    for word in words:
        p, _, v = word.partition("=")
        p = p.replace("-", "_")
        if p in mod["params"]:
            if not check_param(mod["params"][p][0], v):
                raise ModExit(1, "modprobe: ERROR: could not insert '%s': Invalid argument\n" % name)
            params[p] = kernel_form(mod["params"][p][0], v)
        # unknown parameters: the kernel logs "unknown parameter ignored" and loads the module
    for p, (low, high) in mod.get("clamp", {}).items():
        params[p] = str(min(max(int(params[p]), low), high))
    st["loaded"][name] = {"params": params, "holders": ["lab_user"] if name in st.get("held", []) else []}
    for dep in mod["deps"]:
        st["loaded"][dep]["holders"].append(name)


def busy(st, name):
    """Why name cannot be removed: " by: HOLDERS", "" (in use, as the default congestion control), or None."""
    holders = st["loaded"][name]["holders"]
    if holders:
        return " by: " + " ".join(holders)
    return "" if module_refcnt(st, name) > 0 else None


def remove_module(st, name):
    del st["loaded"][name]
    for dep in st["modules"][name]["deps"]:
        if dep in st["loaded"] and name in st["loaded"][dep]["holders"]:
            st["loaded"][dep]["holders"].remove(name)


def cmd_modprobe(hdir, args):
    """kmod 30's modprobe: NAME [PARAM=VALUE...], -n, -q, -v, -r, -R, --first-time; its messages and exit codes; NAME may be an alias."""
    flags, rest = set(), []
    for a in args:
        if a.startswith("--"):
            flags.add(a)
        elif a.startswith("-") and len(a) > 1 and not rest:
            flags.update("-" + c for c in a[1:])
        else:
            rest.append(a)
    dry = flags & {"-n", "--dry-run"}
    quiet = flags & {"-q", "--quiet"}
    if rest and not dry and not flags & {"-r", "--remove", "-R", "--resolve-alias"}:
        with Modules(hdir) as mods:
            slow = mods.state.get("slow", {}).get(resolve_alias(mods.state, rest[0]), 0)
        if slow and resolve_alias(mods.state, rest[0]) not in mods.state["loaded"]:
            time.sleep(slow)  # outside the state's lock: other loads go ahead meanwhile
    remove = flags & {"-r", "--remove"}
    first = "--first-time" in flags
    resolve = flags & {"-R", "--resolve-alias"}
    if not rest:
        raise ModExit(1, "modprobe: ERROR: missing parameters. See -h.\n")
    with Modules(hdir, write=bool(not dry and not resolve)) as mods:
        st = mods.state
        release = st["release"]
        say = (lambda msg: "") if quiet else (lambda msg: msg)
        name = resolve_alias(st, rest[0])
        if resolve:
            if name not in st["modules"] and name not in st["builtin"]:
                raise ModExit(1, say("modprobe: FATAL: Module %s not found in directory /lib/modules/%s\n" % (rest[0].replace("-", "_"), release)))
            sys.stdout.write(name + "\n")
            return 0
        if remove:
            if name in st["builtin"]:
                raise ModExit(1, say("modprobe: FATAL: Module %s is builtin.\n" % name))
            if name not in st["modules"]:
                raise ModExit(1, say("modprobe: FATAL: Module %s not found.\n" % name))
            if name not in st["loaded"]:
                if first:
                    raise ModExit(1, say("modprobe: FATAL: Module %s is not in kernel.\n" % name))
                return 0
            if dry:
                return 0
            if os.geteuid() != 0:
                raise ModExit(1, "modprobe: FATAL: Module %s: Operation not permitted\n" % name)
            if busy(st, name) is not None:
                raise ModExit(1, say("modprobe: FATAL: Module %s is in use.\n" % name))
            remove_module(st, name)
            # then its dependencies nothing else uses, whoever loaded them
            for dep in st["modules"][name]["deps"]:
                if dep in st["loaded"] and busy(st, dep) is None:
                    remove_module(st, dep)
            mods.save()
            return 0
        if name in st["builtin"]:
            if first:
                raise ModExit(1, say("modprobe: ERROR: could not insert '%s': Module already in kernel\n" % name))
            return 0
        if name not in st["modules"]:
            raise ModExit(1, say("modprobe: FATAL: Module %s not found in directory /lib/modules/%s\n" % (name, release)))
        if name in st["loaded"]:
            if first:
                raise ModExit(1, say("modprobe: ERROR: could not insert '%s': Module already in kernel\n" % name))
            return 0
        verbose = "-v" in flags or "--verbose" in flags
        install = None if flags & {"-i", "--ignore-install"} else config_install(name)
        if install is not None:
            # kmod prints this in a verbose dry run, and runs the command through the shell instead of inserting.
            if verbose:
                sys.stdout.write("install %s %s\n" % (install, " ".join(rest[1:])))
            if dry:
                return 0
            code = subprocess.call(["/bin/sh", "-c", install])
            if code != 0:
                raise ModExit(1, "modprobe: ERROR: Error running install command '%s' for module %s: retcode %d\n" % (install, name, code))
            return 0
        if verbose:
            for dep in st["modules"][name]["deps"] + [name]:
                if dep not in st["loaded"]:
                    sys.stdout.write("insmod /lib/modules/%s/%s\n" % (release, st["modules"][dep]["path"]))
        if dry:
            return 0
        if os.geteuid() != 0:
            raise ModExit(1, "modprobe: ERROR: could not insert '%s': Operation not permitted\n" % name)
        try:
            insert_module(st, name, config_options(name) + rest[1:])
        finally:
            # A failed insert leaves the dependencies inserted before it loaded, as kmod does.
            mods.save()
    return 0


def cmd_rmmod(hdir, args):
    names = [a for a in args if not a.startswith("-")]
    if not names:
        raise ModExit(1, "rmmod: ERROR: missing module name.\n")
    with Modules(hdir, write=True) as mods:
        st = mods.state
        for raw in names:
            name = raw.replace("-", "_")
            if name in st["builtin"]:
                raise ModExit(1, "rmmod: ERROR: Module %s is builtin.\n" % name)
            if name not in st["loaded"]:
                raise ModExit(1, "rmmod: ERROR: Module %s is not currently loaded\n" % name)
            if os.geteuid() != 0:
                raise ModExit(1, "rmmod: ERROR: could not remove module %s: Operation not permitted\n" % name)
            why = busy(st, name)
            if why is not None:
                raise ModExit(1, "rmmod: ERROR: Module %s is in use%s\n" % (name, why))
            remove_module(st, name)
            mods.save()
    return 0


def cmd_modinfo(hdir, args):
    """kmod's `modinfo [-0] -F parm NAME`: one "name: (type)" record per parameter the module takes
    (no descriptions here), each ended by a newline, or by a NUL with -0."""
    end = "\n"
    if args[:1] == ["-0"]:
        end, args = "\0", args[1:]
    if len(args) != 3 or args[:2] != ["-F", "parm"]:
        raise ModExit(2, "modinfo (lab): only [-0] -F parm NAME is emulated\n")
    with Modules(hdir, write=False) as mods:
        st = mods.state
        name = resolve_alias(st, args[2])
        if name in st["builtin"]:
            return 0
        if name not in st["modules"]:
            raise ModExit(1, "modinfo: ERROR: Module %s not found.\n" % name)
        for p, (kind, _) in sorted(st["modules"][name]["params"].items()):
            sys.stdout.write("%s: (%s)%s" % (p, "array of " + kind[:-len("_array")] if kind.endswith("_array") else kind, end))
    return 0


def cmd_lsmod(hdir):
    with Modules(hdir) as mods:
        st = mods.state
        lines = ["Module                  Size  Used by"]
        for name in reversed(list(st["loaded"])):
            info = st["loaded"][name]
            lines.append("%-19s %8d  %d %s" % (name, 16384, module_refcnt(st, name), ",".join(info["holders"])))
    sys.stdout.write("\n".join(l.rstrip() for l in lines) + "\n")
    return 0


def cmd_module_tool(tool, hdir, args):
    try:
        if tool == "modprobe":
            return cmd_modprobe(hdir, args)
        if tool == "rmmod":
            return cmd_rmmod(hdir, args)
        if tool == "modinfo":
            return cmd_modinfo(hdir, args)
        return cmd_lsmod(hdir)
    except ModExit as e:
        sys.stderr.write(e.stderr)
        return e.code


# --------------------------------------------------------------------------------------- main


def main(argv):
    if len(argv) >= 3 and argv[0] == "init":
        cmd_init(argv[1], argv[2])
        return 0
    if len(argv) == 2 and argv[0] == "serve":
        serve(argv[1])
        return 0
    if len(argv) >= 2 and argv[0] == "ethtool":
        sys.stdout.flush()
        return cmd_ethtool(argv[1], argv[2:])
    if len(argv) == 3 and argv[0] == "kernel-without":
        return cmd_kernel_without(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == "module-held" and argv[3] in ("on", "off"):
        return cmd_module_held(argv[1], argv[2], argv[3])
    if len(argv) == 4 and argv[0] == "module-slow":
        return cmd_module_slow(argv[1], argv[2], float(argv[3]))
    if len(argv) == 4 and argv[0] == "boot-isolated":
        return cmd_boot_isolated(argv[1], argv[2], argv[3])
    if len(argv) == 3 and argv[0] == "tx-unmapped":
        return cmd_tx_unmapped(argv[1], argv[2])
    if len(argv) == 3 and argv[0] == "traffic":
        return cmd_traffic(argv[1], argv[2])
    if len(argv) >= 2 and argv[0] in ("modprobe", "rmmod", "lsmod", "modinfo"):
        return cmd_module_tool(argv[0], argv[1], argv[2:])
    if len(argv) == 1 and argv[0] == "profiles":
        print(" ".join(PROFILES))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
