/**
 * Value grammars per key family, checked before any host is contacted: counts, sizes and
 * timeouts that cannot be negative, congestion-control and qdisc names, the reserved-port list.
 * A key outside these families is left to the kernel (it may legitimately take -1 or a string).
 */
import { canonicalKey } from "./keys";
import { isCpuMask } from "../cpus";
import { CPU_MASK_KEYS, SettingValue, isBound, limitsOf } from "./values";

/**
 * Keys whose every number is a count, size, ratio or timeout: a negative one is certainly a
 * mistake, even where the kernel's handler (proc_dointvec, proc_dointvec_jiffies) would store
 * it (`net.ipv4.tcp_fin_timeout = -1` is accepted and means nothing sensible). Left out on
 * purpose: keys documented with negative values (tcp_adv_win_scale, kernel.sched_rt_runtime_us,
 * kernel.perf_event_paranoid) and every key not listed.
 */
const UNSIGNED = [
    /^net\.core\.([a-z_]*max[a-z_]*|[a-z_]*backlog|somaxconn|netdev_budget(_usecs)?|[rw]mem_default|dev_weight(_[rt]x_bias)?|busy_(poll|read))$/,
    new RegExp(
        "^net\\.ipv4\\.tcp_(" +
            [
                "[rw]?mem",
                "fin_timeout",
                "keepalive_(time|intvl|probes)",
                "(syn|synack|orphan)_retries",
                "retries[12]",
                "max_(syn_backlog|tw_buckets|orphans|reordering)",
                "reordering",
                "notsent_lowat",
                "limit_output_bytes",
                "challenge_ack_limit",
                "invalid_ratelimit",
                "(base|min_snd)_mss",
                "mtu_probe_floor",
                "probe_(threshold|interval)",
                "pacing_(ss|ca)_ratio",
                "min_tso_segs",
                "tso_win_divisor",
                "comp_sack_(delay_ns|slack_ns|nr)",
                "min_rtt_wlen",
                "fastopen",
                "fastopen_blackhole_timeout_sec",
                "tw_reuse",
                "syncookies",
                "timestamps",
                "sack",
                "dsack",
                "window_scaling",
                "slow_start_after_idle",
                "mtu_probing",
                "ecn",
                "app_win",
                "autocorking",
                "early_retrans",
                "recovery",
                "abort_on_overflow",
                "no_metrics_save",
                "moderate_rcvbuf",
                "frto",
                "rfc1337",
            ].join("|") +
            ")$",
    ),
    /^net\.ipv4\.udp_(mem|[rw]mem_min)$/,
    /^net\.ipv4\.ip_local_port_range$/,
    /^net\.netfilter\.nf_conntrack_(max|buckets|expect_max|[a-z0-9_]*timeout[a-z0-9_]*)$/,
    /^vm\./,
    /^fs\.(file-max|nr_open|aio-max-nr|inotify\.max_(user_watches|user_instances|queued_events))$/,
    /^kernel\.(numa_balancing|nmi_watchdog|timer_migration|pid_max|threads-max)$/,
];

/**
 * Keys the kernel reads as a fixed number of values. It takes fewer (leaving the rest as they
 * were) and drops extra ones silently: either way the read-back never matches, and every preview
 * after shows the same update again.
 */
const VALUE_COUNTS: Readonly<Record<string, number>> = {
    "net.ipv4.tcp_rmem": 3,
    "net.ipv4.tcp_wmem": 3,
    "net.ipv4.tcp_mem": 3,
    "net.ipv4.udp_mem": 3,
    "net.ipv4.ip_local_port_range": 2,
};

/**
 * Keys the kernel stores in a C int (proc_dointvec and kin): above 2^31-1 it refuses the write
 * with EINVAL. Listed one by one, because neighbours take more: tcp_mem, udp_mem, fs.file-max,
 * fs.aio-max-nr and vm.dirty_bytes are unsigned long, tcp_notsent_lowat an unsigned int.
 */
const INT_KEYS = new Set([
    ...["somaxconn", "rmem_max", "wmem_max", "rmem_default", "wmem_default", "optmem_max", "netdev_max_backlog", "netdev_budget", "dev_weight"].map((k) => `net.core.${k}`),
    ...["tcp_rmem", "tcp_wmem", "tcp_fin_timeout", "tcp_keepalive_time", "tcp_keepalive_intvl", "tcp_max_syn_backlog", "tcp_max_tw_buckets", "tcp_max_orphans", "tcp_limit_output_bytes", "udp_rmem_min", "udp_wmem_min"].map(
        (k) => `net.ipv4.${k}`,
    ),
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_buckets",
    ...["swappiness", "dirty_ratio", "dirty_background_ratio", "dirty_expire_centisecs", "dirty_writeback_centisecs", "min_free_kbytes", "max_map_count", "vfs_cache_pressure", "overcommit_memory", "overcommit_ratio", "watermark_scale_factor"].map((k) => `vm.${k}`),
    "fs.nr_open",
    "fs.inotify.max_user_watches",
    "fs.inotify.max_user_instances",
    "fs.inotify.max_queued_events",
    "kernel.pid_max",
    "kernel.threads-max",
]);
const INT_MAX = 2 ** 31 - 1;

const PORT_RANGE = "net.ipv4.ip_local_port_range";

/**
 * tcp_fastopen_key: a primary key and an optional backup after a comma, each four groups of hex
 * digits. The kernel takes groups of fewer digits or in capitals but prints eight lowercase ones,
 * so only that form is taken: any other would show as drift on every preview.
 */
const FASTOPEN_KEY = "net.ipv4.tcp_fastopen_key";
const FASTOPEN_KEY_GRAMMAR = /^[0-9a-f]{8}(-[0-9a-f]{8}){3}(,[0-9a-f]{8}(-[0-9a-f]{8}){3})?$/;

/** A congestion-control or qdisc name: TCP_CA_NAME_MAX and IFNAMSIZ are 16 bytes with the NUL. */
const NAME = /^[a-z0-9_]{1,15}$/;
const SINGLE_NAME: Readonly<Record<string, string>> = {
    "net.ipv4.tcp_congestion_control": 'a congestion-control name such as "bbr" or "cubic"',
    "net.core.default_qdisc": 'a qdisc name such as "fq" or "fq_codel"',
};
/** The qdiscs Linux ships (net/sched): default_qdisc takes one of these, or the write fails with ENOENT. */
const QDISCS = new Set(
    "pfifo_fast pfifo bfifo pfifo_head_drop noqueue fq fq_codel fq_pie cake codel pie dualpi2 sfq sfb red gred choke hhf tbf netem prio multiq mq mqprio htb hfsc drr qfq ets cbs etf taprio skbprio plug".split(" "),
);
const QDISC = "net.core.default_qdisc";
const NAME_LIST = "net.ipv4.tcp_allowed_congestion_control";
const PORT_LIST = "net.ipv4.ip_local_reserved_ports";
const MAX_PORT = 65535;

export function isUnsigned(key: string): boolean {
    const canonical = canonicalKey(key);
    return UNSIGNED.some((family) => family.test(canonical));
}

/** A value for a message: quoted, and cut short when long. */
export function shown(value: unknown): string {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** Every token a value holds: plain numbers, array elements, bound limits, words of a string. */
function tokensIn(value: SettingValue): (number | string)[] {
    if (isBound(value)) {
        const limit = limitsOf(value);
        return Array.isArray(limit) ? limit : [limit];
    }
    if (Array.isArray(value)) {
        return value;
    }
    return typeof value === "number" ? [value] : value.trim().split(/\s+/);
}

/** Every number a value holds: plain numbers, array elements, bound limits, integer tokens of a string. */
function numbersIn(value: SettingValue): (number | string)[] {
    return tokensIn(value).filter((t) => typeof t === "number" || /^[-+]?\d+$/.test(t));
}

/** Why a port range's numbers are not one the kernel takes: 1-65535, the end not below the start. */
function portRangeProblem(numbers: (number | string)[]): string | undefined {
    const [from, to] = numbers.map(Number);
    if (from < 1 || to > MAX_PORT) {
        return `takes two ports within 1-${MAX_PORT}, got ${from} ${to}`;
    }
    if (to < from) {
        return `takes a range whose end is not below its start, got ${from} ${to} (the end ${to} is below the start ${from})`;
    }
    return undefined;
}

function portListProblem(text: string): string | undefined {
    const trimmed = text.trim();
    for (const part of trimmed.split(",")) {
        const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
        if (!match) {
            return `takes a port list such as "5060-5061,8080" (ports or ranges N-M, comma-separated, no spaces), got ${shown(text)}`;
        }
        const [from, to] = [Number(match[1]), Number(match[2] ?? match[1])];
        if (from > MAX_PORT || to > MAX_PORT) {
            return `takes ports 0-${MAX_PORT}, got ${shown(part)}`;
        }
        if (to < from) {
            return `has the descending range ${part}; write ${to}-${from}`;
        }
    }
    return undefined;
}

/**
 * A port list as the kernel prints it back (a bitmap, `%*pbl`): ascending, overlapping and
 * adjacent ranges merged, so "8080,5061,5060" is read back as "5060-5061,8080", never as drift.
 */
export function kernelPortList(text: string): string {
    const ranges = text
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean)
        .map((part) => part.split("-").map(Number))
        .map(([from, to = from]) => [from, to] as [number, number])
        .sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const [from, to] of ranges) {
        const last = merged[merged.length - 1];
        if (last && from <= last[1] + 1) {
            last[1] = Math.max(last[1], to);
        } else {
            merged.push([from, to]);
        }
    }
    return merged.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`)).join(",");
}

/**
 * Why `value` is not a value `key` can take, or undefined when it may be (the kernel has the
 * last word). The message starts with what the key takes; callers prefix the key.
 */
export function valueProblem(key: string, value: SettingValue): string | undefined {
    const canonical = canonicalKey(key);
    if (canonical === FASTOPEN_KEY) {
        // A secret: never echoed.
        if (typeof value !== "string" || !FASTOPEN_KEY_GRAMMAR.test(value.trim())) {
            return 'takes a key as the kernel prints it: four groups of 8 lowercase hex digits joined by "-", optionally a comma and a backup key in the same form';
        }
        return undefined;
    }
    if (CPU_MASK_KEYS.has(canonical)) {
        if (typeof value !== "string" || !isCpuMask(value)) {
            const why = typeof value === "number" ? ", as a string: a number would read as decimal" : "";
            return `takes a CPU mask as the kernel writes one${why}: hex digits in 32-bit groups separated by commas ("f" is CPUs 0-3, "1,00000000" is CPU 32), got ${shown(value)}`;
        }
        return undefined;
    }
    if (canonical === QDISC && typeof value === "string" && NAME.test(value.trim()) && !QDISCS.has(value.trim())) {
        return `takes a qdisc Linux ships, such as "fq" or "fq_codel", got ${shown(value)}`;
    }
    const name = SINGLE_NAME[canonical];
    if (name !== undefined) {
        if (typeof value !== "string" || !NAME.test(value.trim())) {
            return `takes ${name} (lowercase letters, digits and _, at most 15 characters), got ${shown(value)}`;
        }
        return undefined;
    }
    if (canonical === NAME_LIST) {
        if (typeof value !== "string" || !value.trim().split(/\s+/).every((n) => NAME.test(n))) {
            return `takes congestion-control names separated by spaces, such as "reno cubic bbr", got ${shown(value)}`;
        }
        return undefined;
    }
    if (canonical === PORT_LIST) {
        if (typeof value === "number") {
            return value >= 0 && value <= MAX_PORT ? undefined : `takes ports 0-${MAX_PORT}, got ${value}`;
        }
        if (typeof value !== "string") {
            return `takes a port list string such as "5060-5061,8080", got ${shown(value)}`;
        }
        return portListProblem(value);
    }
    // proc_get_long reads integers in base 0: "010" is 8 to the kernel, and would read back so forever.
    const octal = typeof value === "string" ? tokensIn(value).find((t) => /^[+-]?0\d+$/.test(String(t))) : undefined;
    if (octal !== undefined) {
        const reads = /^[+-]?0[0-7]+$/.test(String(octal)) ? `storing ${parseInt(String(octal), 8)}` : "and refuses (8 and 9 are no octal digits)";
        return `has ${octal}, which the kernel reads as octal (a leading 0), ${reads}: write the number without its leading zeros`;
    }
    // Base 0 takes "0x10" too, and reads back 16: as declared it would drift at every preview.
    const hex = typeof value === "string" ? tokensIn(value).find((t) => /^[+-]?0[xX][0-9a-fA-F]+$/.test(String(t))) : undefined;
    if (hex !== undefined) {
        return `has ${hex}, which the kernel reads as hexadecimal and shows as ${parseInt(String(hex), 16)}: write the decimal number`;
    }
    const count = VALUE_COUNTS[canonical];
    const tokens = tokensIn(value);
    if (count !== undefined && tokens.length !== count) {
        return `takes exactly ${count} values, got ${tokens.length} (${shown(value)}); the kernel would ${tokens.length > count ? "drop the extra ones" : "keep the others as they are"}`;
    }
    if (isUnsigned(canonical)) {
        const negative = numbersIn(value).find((n) => (typeof n === "number" ? n < 0 : n.startsWith("-")));
        if (negative !== undefined) {
            return `is a count, size or timeout and cannot be negative, got ${negative}`;
        }
    }
    if (INT_KEYS.has(canonical)) {
        const tooLarge = numbersIn(value).find((n) => Number(n) > INT_MAX);
        if (tooLarge !== undefined) {
            return `is a C int in the kernel, at most ${INT_MAX} (2^31-1), got ${tooLarge}`;
        }
    }
    if (canonical === PORT_RANGE) {
        return portRangeProblem(numbersIn(value));
    }
    if (WRITEBACK_BYTES.has(canonical) && numbersIn(value).some((n) => Number(n) === 0)) {
        return `cannot be 0 (the kernel refuses it): to use ${canonical.replace("_bytes", "_ratio")} instead, set that`;
    }
    return undefined;
}

/** Byte counts of the writeback limits: 0 is what the kernel shows while the ratio is in force, never a value to write. */
const WRITEBACK_BYTES = new Set(["vm.dirty_bytes", "vm.dirty_background_bytes"]);
