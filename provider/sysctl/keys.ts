/**
 * Sysctl key syntax. Keys come in two spellings: dotted (`net.ipv4.conf.eth0.rp_filter`) and
 * the slash form that `sysctl` and sysctl.d accept when a component itself contains dots
 * (`net/ipv4/conf/eth0.100/rp_filter` for VLAN interface eth0.100).
 */

const DOTTED = /^[a-z0-9_]+(\.[A-Za-z0-9_@:+-]+)+$/;
const SLASHED = /^[a-z0-9_]+(\/[A-Za-z0-9_@:.+-]+)+$/;

/** Per-interface trees: their keys have exactly one interface component at index 3. */
const PER_INTERFACE = /^net\.(ipv4|ipv6|mpls)\.(conf|neigh)\./;
const PER_INTERFACE_DEPTH = 5;

/** Keys refused outright: removed from the kernel, or kept only as no-ops. */
export const REFUSED_KEYS: Readonly<Record<string, string>> = {
    "net.ipv4.tcp_tw_recycle":
        "was removed in Linux 4.12 (commit 4396e46187ca) because it broke clients behind NAT; use net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_low_latency": "has had no effect since Linux 4.14 (docs.kernel.org/networking/ip-sysctl.html)",
    "net.ipv4.tcp_fack": "is a legacy option with no effect (docs.kernel.org/networking/ip-sysctl.html)",
};

/** Why `key` is not a usable sysctl name, or undefined when it is. */
export function keyProblem(key: string): string | undefined {
    if (key.length === 0 || key.length > 255) {
        return "must be 1-255 characters";
    }
    if (/[\s\0=]/.test(key)) {
        return "must not contain whitespace, NUL or '='";
    }
    if (key.includes("/")) {
        if (!SLASHED.test(key) || key.split("/").some((part) => part === "." || part === "..")) {
            return "is not a valid slash-form sysctl key (e.g. net/ipv4/conf/eth0.100/rp_filter)";
        }
    } else if (!DOTTED.test(key)) {
        return "is not a valid sysctl key (e.g. net.core.somaxconn)";
    }
    if (!key.includes("/") && PER_INTERFACE.test(key) && key.split(".").length > PER_INTERFACE_DEPTH) {
        const parts = key.split(".");
        const iface = parts.slice(3, parts.length - 1).join(".");
        return (
            `names interface "${iface}", which contains a dot; the dotted form is ambiguous. ` +
            `Write it in slash form: ${[...parts.slice(0, 3), iface, parts[parts.length - 1]].join("/")}`
        );
    }
    const refused = REFUSED_KEYS[canonicalKey(key)];
    return refused ? `${refused}; it is refused` : undefined;
}

/** The path under /proc/sys: dots become slashes unless the key is already in slash form. */
export function procPath(key: string): string {
    return key.includes("/") ? key : key.replace(/\./g, "/");
}

/**
 * One spelling per key, so `net/core/somaxconn` and `net.core.somaxconn` are recognised as the
 * same setting: dotted unless a component contains a dot.
 */
export function canonicalKey(key: string): string {
    if (!key.includes("/")) {
        return key;
    }
    const parts = key.split("/");
    return parts.some((p) => p.includes(".")) ? key : parts.join(".");
}

/**
 * Converts a key as written in a sysctl.d file (either spelling, leading '-' = ignore errors)
 * to its canonical form. As sysctl(8) and systemd-sysctl read it, a dotted key's slashes stand
 * for dots in a component: `net.ipv4.conf.eth0/100.rp_filter` is eth0.100's rp_filter.
 */
export function keyFromConfLine(raw: string): string {
    const key = raw.trim().replace(/^-/, "");
    const firstSep = key.search(/[./]/);
    if (firstSep >= 0 && key[firstSep] === "/") {
        return canonicalKey(key);
    }
    return canonicalKey(key.replace(/[./]/g, (sep) => (sep === "." ? "/" : ".")));
}

/**
 * Keys whose values are secrets, which the kernel keeps readable by root alone (mode 0600):
 * the TCP Fast Open cookie key, and IPv6's stable_secret (RFC 7217 address generation).
 */
export function isSecretKey(key: string): boolean {
    const canonical = canonicalKey(key);
    return canonical === "net.ipv4.tcp_fastopen_key" || /^net[./]ipv6[./]conf[./].+[./]stable_secret$/.test(canonical);
}

/** A value as messages may show it: never a secret key's. */
export const shownValue = (key: string, value: string): string => (isSecretKey(key) ? "(secret, not shown)" : value);
