import { execFile, execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import type { ConnectionArgs } from "../../provider";

const LAB_SCRIPT = path.resolve(__dirname, "../lab/lab.sh");

export interface LabHost {
    name: string;
    netns: string;
    address: string;
    port: number;
    hostKey: string;
    /** The host's veth on the controller's side: its "cable". */
    vethRoot: string;
    sshdPid: number;
    mountRoot: string;
    /** Emulated hardware profile: "server" (cpufreq, NIC rings, MSI-X queues) or "vm". */
    hardware: string;
}

export interface Lab {
    id: string;
    dir: string;
    knownHostsPath: string;
    privateKeyPath: string;
    hosts: LabHost[];
}

/** `hardware`: one profile for every host ("server", "vm"); default h1 server, the others vm. */
export function labUp(hosts: number, hardware?: string): Lab {
    const out = execFileSync("bash", [LAB_SCRIPT, "up", String(hosts), ...(hardware ? ["--hw", hardware] : [])], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    const stateFile = out.trim().split("\n").pop()!;
    return JSON.parse(readFileSync(stateFile, "utf8"));
}

export function labDown(lab: Lab): void {
    execFileSync("bash", [LAB_SCRIPT, "down", lab.dir], { stdio: ["ignore", "inherit", "inherit"] });
}

/** Runs a command on a lab host outside Pulumi and SSH: the independent check. */
export function onHost(lab: Lab, host: LabHost, argv: string[]): string {
    return execFileSync("bash", [LAB_SCRIPT, "exec", lab.dir, host.name, "--", ...argv], { encoding: "utf8" });
}

/** Starts a real `irqbalance --foreground [args]` inside the host (its own PID namespace). */
export function startIrqbalance(lab: Lab, host: LabHost, args: string[] = []): void {
    execFileSync("bash", [LAB_SCRIPT, "irqbalance", lab.dir, host.name, ...args], { stdio: ["ignore", "inherit", "inherit"] });
}

export function sysctlOn(lab: Lab, host: LabHost, key: string): string {
    return onHost(lab, host, ["sysctl", "-n", key]).trim().split(/\s+/).join(" ");
}

export function setSysctlOn(lab: Lab, host: LabHost, key: string, value: string): void {
    onHost(lab, host, ["sysctl", "-q", "-w", `${key}=${value}`]);
}

export function fileOn(lab: Lab, host: LabHost, file: string): string | null {
    const out = onHost(lab, host, ["sh", "-c", 'if [ -f "$1" ]; then cat "$1"; else printf "<absent>"; fi', "sh", file]);
    return out === "<absent>" ? null : out;
}

function sshdLog(lab: Lab, host: LabHost): string {
    return readFileSync(path.join(lab.dir, "hosts", host.name, "sshd.log"), "utf8");
}

/** Incoming SSH connections sshd has logged so far on this host. */
export function sshConnectionCount(lab: Lab, host: LabHost): number {
    return (sshdLog(lab, host).match(/Connection from /g) ?? []).length;
}

/** Remote commands (SSH exec sessions) sshd has started so far on this host. */
export function sshCommandCount(lab: Lab, host: LabHost): number {
    return (sshdLog(lab, host).match(/Starting session: command/g) ?? []).length;
}

export function connectionTo(lab: Lab, host: LabHost, extra: Partial<ConnectionArgs> = {}): ConnectionArgs {
    return {
        host: host.address,
        port: host.port,
        user: "root",
        privateKey: readFileSync(lab.privateKeyPath, "utf8"),
        hostKey: host.hostKey,
        ...extra,
    };
}

/**
 * Starts tests/lab/listen-burst.py inside a host (a slow-accepting listener and bursts of
 * connections at it on the host's loopback) and resolves when it ends, bounded by `seconds`.
 */
export function listenBurst(lab: Lab, host: LabHost, seconds: number, extra: string[] = []): Promise<void> {
    return labScriptOn(lab, host, "listen-burst.py", ["--seconds", String(seconds), ...extra]);
}

/** tests/lab/udp-burst.py inside a host: bursts of datagrams at a reader that does not read during them, on the host's loopback. */
export function udpBurstOn(lab: Lab, host: LabHost, args: string[]): Promise<void> {
    return labScriptOn(lab, host, "udp-burst.py", args);
}

function labScriptOn(lab: Lab, host: LabHost, script: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
        execFile("bash", [LAB_SCRIPT, "exec", lab.dir, host.name, "--", "python3", path.resolve(__dirname, "../lab", script), ...args], (error) => (error ? reject(error) : resolve()));
    });
}

/** The emulated NIC takes traffic: each queue IRQ raises `perSecond` interrupts a second on its effective CPU (0 stops it). */
export function nicTraffic(lab: Lab, host: LabHost, perSecond: number): void {
    execFileSync("/usr/bin/python3", ["-I", path.join(lab.dir, "hw.py"), "traffic", path.join(lab.dir, "hosts", host.name), String(perSecond)]);
}

/** The NIC's queue interrupts per CPU (the eth1-TxRx-N lines of /proc/interrupts, summed), read outside the product. */
export function queueInterruptsOn(lab: Lab, host: LabHost): number[] {
    const out = onHost(lab, host, ["awk", 'NR == 1 { n = NF } /eth1-TxRx-/ { for (i = 2; i <= n + 1; i++) c[i - 2] += $i } END { for (i = 0; i < n; i++) printf "%d ", c[i] }', "/proc/interrupts"]);
    return out.trim().split(/\s+/).map(Number);
}

/** One of the host's /proc/net/snmp6 counters by the kernel's own name ("Udp6RcvbufErrors"), read outside the product. */
export function snmp6Counter(lab: Lab, host: LabHost, kernelName: string): number {
    const out = onHost(lab, host, ["awk", "-v", `n=${kernelName}`, "$1 == n { print $2 }", "/proc/net/snmp6"]);
    // No such line is NaN, not 0: Number("") would read as a counter that never rose.
    return out.trim() === "" ? NaN : Number(out.trim());
}

/** One of the host's /proc/net/netstat or /proc/net/snmp counters, read outside the product. */
export function netCounter(lab: Lab, host: LabHost, name: string): number {
    const [group, field] = name.split(".");
    const out = onHost(lab, host, ["sh", "-c", 'cat /proc/net/netstat /proc/net/snmp | awk -v g="$1:" -v f="$2" \'$1 == g && !h { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1; next } $1 == g && h { print $c; exit }\'', "sh", group, field]);
    return Number(out.trim());
}
