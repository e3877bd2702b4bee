import { sleep } from "../sleep";
import { isCpuList, parseCpuList } from "../cpus";
import { shProgram } from "../transport/argv";
import { RemoteCommandError, Transport } from "../transport/transport";
import { Rate, counterRates } from "./rates";
import { SNMP_GAUGES, parseEthtoolStats, parseLinkStats, parseProtocolCounters, parseSnmp6, parseSockstat, parseSoftnet, queueInterruptsPerCpu } from "./parse";

/** One reading of a host's counters. Counters only grow (until a wrap or reboot); gauges are levels. */
export interface Sample {
    /** /proc/uptime: a smaller value in a later sample means the host rebooted in between. */
    uptimeSeconds: number;
    /** /proc/sys/kernel/random/boot_id: another one means the host rebooted, however long ago. */
    bootId?: string;
    /** The sampled interface's ifindex: another one means it was re-created (a driver reload), its counters restarted. */
    ifindex?: number;
    counters: Record<string, number>;
    gauges: Record<string, number>;
    /** Sources this host does not have (no softnet_stat in a container, no `ethtool -S` for a driver). */
    missing: string[];
}

/** One read-only program per sample: every source in one command, as `@section` blocks. */
const SAMPLE_PROGRAM = `
iface=$1
section() { printf '@%s\\n' "$1"; }
section uptime; cat /proc/uptime 2>/dev/null
section bootid; cat /proc/sys/kernel/random/boot_id 2>/dev/null
section snmp; cat /proc/net/snmp 2>/dev/null
section netstat; cat /proc/net/netstat 2>/dev/null
section snmp6; cat /proc/net/snmp6 2>/dev/null
section softnet; cat /proc/net/softnet_stat 2>/dev/null
section online; cat /sys/devices/system/cpu/online 2>/dev/null
section sockstat; cat /proc/net/sockstat 2>/dev/null
if [ -n "$iface" ]; then
  dev=/sys/class/net/$iface/device
  msi=$(ls "$dev/msi_irqs" 2>/dev/null | tr '\\n' ' ')
  device=$(readlink "$dev" 2>/dev/null); device=\${device##*/}
  section ifindex; cat "/sys/class/net/$iface/ifindex" 2>/dev/null
  section msi; [ -n "$msi" ] && printf '%s\\n' "$msi"
  section device; [ -n "$device" ] && printf '%s\\n' "$device"
  # Only lines that may be the interface's queues (its name, its device's, its MSI vectors); parseSample picks them.
  section interrupts
  awk -v i="$iface" -v d="$device" -v m=" $msi" 'NR == 1 || index($0, i) || (d != "" && index($0, d)) || /mlx5_comp/ || index(m, " " substr($1, 1, length($1) - 1) " ")' /proc/interrupts 2>/dev/null
  section link
  # A builtin read per counter, no fork; one the driver will not report is left out, not read as 0.
  for f in /sys/class/net/"$iface"/statistics/*; do v=; read -r v 2>/dev/null < "$f" && [ -n "$v" ] && printf '%s %s\\n' "\${f##*/}" "$v"; done
  section ethtool; ethtool -S "$iface" 2>/dev/null
fi
exit 0
`;

const SOURCE_NAMES: Record<string, string> = {
    snmp: "/proc/net/snmp",
    netstat: "/proc/net/netstat",
    snmp6: "/proc/net/snmp6",
    softnet: "/proc/net/softnet_stat",
    sockstat: "/proc/net/sockstat",
    interrupts: "/proc/interrupts (no queue IRQ of IF)",
    link: "/sys/class/net/IF/statistics",
    ethtool: "ethtool -S IF",
};

export function parseSample(stdout: string, iface?: string): Sample {
    const sections = new Map<string, string>();
    let current = "";
    for (const line of stdout.split("\n")) {
        const header = /^@([a-z0-9]+)$/.exec(line);
        if (header) {
            current = header[1];
            sections.set(current, "");
        } else if (current) {
            sections.set(current, sections.get(current) + line + "\n");
        }
    }
    const text = (name: string) => sections.get(name) ?? "";
    const msiIrqs = text("msi").trim().split(/\s+/).filter((n) => /^\d+$/.test(n)).map(Number);
    const queueInterrupts = iface ? queueInterruptsPerCpu(text("interrupts"), iface, msiIrqs, text("device").trim() || undefined) : {};
    const counters = {
        ...parseProtocolCounters(text("snmp")),
        ...parseProtocolCounters(text("netstat")),
        ...parseSnmp6(text("snmp6")),
        ...parseSoftnet(text("softnet"), isCpuList(text("online").trim()) ? parseCpuList(text("online").trim()) : undefined),
        ...(iface ? { ...queueInterrupts, ...parseLinkStats(text("link"), iface), ...parseEthtoolStats(text("ethtool"), iface) } : {}),
    };
    if (!text("softnet").trim()) {
        for (const key of Object.keys(counters).filter((k) => k.startsWith("softnet."))) {
            delete counters[key];
        }
    }
    const expected = ["snmp", "netstat", "snmp6", "softnet", "sockstat", ...(iface ? ["interrupts", "link", "ethtool"] : [])];
    const found = (s: string) => (s === "interrupts" ? Object.keys(queueInterrupts).length > 0 : text(s).trim() !== "");
    const missing = expected.filter((s) => !found(s)).map((s) => SOURCE_NAMES[s].replace("IF", iface ?? "IF"));
    const gauges = parseSockstat(text("sockstat"));
    for (const name of SNMP_GAUGES.filter((g) => g in counters)) {
        gauges[name] = counters[name];
        delete counters[name];
    }
    const bootId = text("bootid").trim() || undefined;
    const ifindex = /^\d+$/.test(text("ifindex").trim()) ? Number(text("ifindex").trim()) : undefined;
    return { uptimeSeconds: Number(text("uptime").trim().split(/\s+/)[0]) || 0, ...(bootId ? { bootId } : {}), ...(ifindex !== undefined ? { ifindex } : {}), counters, gauges, missing };
}

/** Reads every counter source in one remote command (read-only; no root needed for /proc/net). */
export async function sampleHost(transport: Transport, iface?: string): Promise<Sample> {
    const result = await transport.run(shProgram(SAMPLE_PROGRAM, "pulumi-counters", [iface ?? ""]));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "counter sample", result);
    }
    return parseSample(result.stdout, iface);
}

/** Two samples `windowSeconds` apart: every counter's rate over the window, and the later sample. */
export async function measureRates(transport: Transport, iface: string | undefined, windowSeconds: number): Promise<{ rates: Record<string, Rate>; end: Sample }> {
    const start = await sampleHost(transport, iface);
    await sleep(windowSeconds);
    const end = await sampleHost(transport, iface);
    return { rates: counterRates(start, end), end };
}

/** Every counter's rate over each window, all from one first sample: one more sample at each window's end. */
export async function measureRatesOver(transport: Transport, iface: string | undefined, windows: readonly number[]): Promise<Map<number, Record<string, Rate>>> {
    const start = await sampleHost(transport, iface);
    const rates = new Map<number, Record<string, Rate>>();
    let slept = 0;
    for (const window of [...new Set(windows)].sort((a, b) => a - b)) {
        await sleep(window - slept);
        slept = window;
        rates.set(window, counterRates(start, await sampleHost(transport, iface)));
    }
    return rates;
}
