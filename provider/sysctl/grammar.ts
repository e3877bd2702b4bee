/**
 * Value grammars per key family, checked before any host is contacted: counts, sizes and
 * timeouts that cannot be negative, congestion-control and qdisc names, the reserved-port list.
 * A key outside these families is left to the kernel (it may legitimately take -1 or a string).
 */
import { canonicalKey } from "./keys";
import { SettingValue, isBound } from "./values";

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

/** A congestion-control or qdisc name: TCP_CA_NAME_MAX and IFNAMSIZ are 16 bytes with the NUL. */
const NAME = /^[a-z0-9_]{1,15}$/;
const SINGLE_NAME: Readonly<Record<string, string>> = {
    "net.ipv4.tcp_congestion_control": 'a congestion-control name such as "bbr" or "cubic"',
    "net.core.default_qdisc": 'a qdisc name such as "fq" or "fq_codel"',
};
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

/** Every number a value holds: plain numbers, array elements, bound limits, integer tokens of a string. */
function numbersIn(value: SettingValue): (number | string)[] {
    if (isBound(value)) {
        const limit = "atLeast" in value ? value.atLeast : value.atMost;
        return Array.isArray(limit) ? limit : [limit];
    }
    if (Array.isArray(value)) {
        return value;
    }
    if (typeof value === "number") {
        return [value];
    }
    return value.trim().split(/\s+/).filter((t) => /^[-+]?\d+$/.test(t));
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
 * Why `value` is not a value `key` can take, or undefined when it may be (the kernel has the
 * last word). The message starts with what the key takes; callers prefix the key.
 */
export function valueProblem(key: string, value: SettingValue): string | undefined {
    const canonical = canonicalKey(key);
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
    if (isUnsigned(canonical)) {
        const negative = numbersIn(value).find((n) => (typeof n === "number" ? n < 0 : n.startsWith("-")));
        if (negative !== undefined) {
            return `is a count, size or timeout and cannot be negative, got ${negative}`;
        }
    }
    return undefined;
}
