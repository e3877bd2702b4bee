import { execFile, execFileSync, spawn } from "child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "fs";
import { connect } from "net";
import * as os from "os";
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
    // A bastion left running by a test that stopped early goes with its lab.
    try {
        process.kill(Number(readFileSync(path.join(lab.dir, "bastion", "sshd.pid"), "utf8")));
    } catch {
        // none started, or stopped already
    }
    execFileSync("bash", [LAB_SCRIPT, "down", lab.dir], { stdio: ["ignore", "inherit", "inherit"] });
}

/** A jump host: a real sshd on this machine's loopback, which reaches every lab host as a bastion reaches a fleet. */
export interface Bastion {
    host: string;
    port: number;
    /** Its Ed25519 key, which a client offering every type is shown first. */
    hostKey: string;
    rsaHostKey: string;
    /** Incoming SSH connections it has logged so far. */
    connections(): number;
    stop(): void;
}

/** Starts the lab's bastion (its own config, host key and log under the lab's directory; it listens on 127.0.0.1 only). */
export async function startBastion(lab: Lab): Promise<Bastion> {
    const dir = path.join(lab.dir, "bastion");
    mkdirSync(dir, { recursive: true });
    // Two host keys, as most servers have: which one it shows depends on what the client offers.
    const key = path.join(dir, "ssh_host_ed25519_key");
    const rsaKey = path.join(dir, "ssh_host_rsa_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "plt-lab-bastion", "-f", key]);
    execFileSync("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "plt-lab-bastion", "-f", rsaKey]);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const config = path.join(dir, "sshd_config");
    const authorized = path.join(lab.dir, "authorized_keys");
    writeFileSync(
        config,
        [`ListenAddress 127.0.0.1`, `Port ${port}`, `HostKey ${key}`, `HostKey ${rsaKey}`, `PidFile ${dir}/sshd.pid`, `AuthorizedKeysFile ${authorized}`, `AuthorizedKeysCommand /usr/bin/cat ${authorized}`,
            "AuthorizedKeysCommandUser root", "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            "AllowTcpForwarding yes", "UseDNS no", "LogLevel VERBOSE", ""].join("\n"),
    );
    const logFile = path.join(dir, "sshd.log");
    const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", openSync(logFile, "a")] });
    const accepting = () => new Promise<boolean>((resolve) => connect(port, "127.0.0.1").once("connect", function (this: { end(): void }) { this.end(); resolve(true); }).once("error", () => resolve(false)));
    for (let tries = 0; !(await accepting()); tries++) {
        if (tries > 50 || sshd.exitCode !== null) {
            sshd.kill();
            throw new Error(`the lab bastion did not start: ${readFileSync(logFile, "utf8")}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const publicKey = (file: string) => readFileSync(`${file}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    return {
        host: "127.0.0.1",
        port,
        hostKey: publicKey(key),
        rsaHostKey: publicKey(rsaKey),
        connections: () => (readFileSync(logFile, "utf8").match(/Connection from /g) ?? []).length,
        stop: () => void sshd.kill(),
    };
}

/** Runs a command on a lab host outside Pulumi and SSH: the independent check. */
export function onHost(lab: Lab, host: LabHost, argv: string[]): string {
    return execFileSync("bash", [LAB_SCRIPT, "exec", lab.dir, host.name, "--", ...argv], { encoding: "utf8" });
}

/** The same, without waiting: something else on the host acting while Pulumi does. Resolves with its exit code. */
export function onHostMeanwhile(lab: Lab, host: LabHost, argv: string[]): Promise<number | null> {
    const child = spawn("bash", [LAB_SCRIPT, "exec", lab.dir, host.name, "--", ...argv], { stdio: "ignore" });
    return new Promise((resolve) => child.on("exit", resolve));
}

/**
 * Makes `ethtool OPTION …` fail on the host with `message` and exit `code`, the rest of ethtool
 * working, as a driver that cannot answer it (now, or at all) does; returns what undoes it.
 */
export function failingEthtool(lab: Lab, host: LabHost, option: string, message: string, code: number): () => void {
    return wrappedEthtool(lab, host, `[ "$1" = %s ] && { echo "%s" >&2; exit %d; }`, [option, message, String(code)]);
}

/**
 * Makes `ethtool -k IF` show `feature` as "VALUE [fixed]", as a driver that no longer lets it
 * change does (after a reload, new firmware); returns what undoes it.
 */
export function fixedEthtoolFeature(lab: Lab, host: LabHost, feature: string, value: "on" | "off"): () => void {
    return wrappedEthtool(lab, host, `[ "$1" = -k ] && { sh /run/plt-ethtool "$@" | sed "s/^%s: .*/%s: %s [fixed]/"; exit 0; }`, [feature, feature, value]);
}

/** /usr/sbin/ethtool on the host replaced by a wrapper running `test` (a printf format of `args`) first, then the real one. */
function wrappedEthtool(lab: Lab, host: LabHost, test: string, args: string[]): () => void {
    const wrapper = String.raw`format=$1; shift
cp /usr/sbin/ethtool /run/plt-ethtool
printf "#!/bin/sh
$format
exec sh /run/plt-ethtool "\$@"
" "$@" > /run/plt-ethtool-failing
chmod 0755 /run/plt-ethtool-failing
mount --bind /run/plt-ethtool-failing /usr/sbin/ethtool`;
    onHost(lab, host, ["sh", "-c", wrapper, "sh", test, ...args]);
    let undone = false;
    return () => {
        if (!undone) {
            undone = true;
            onHost(lab, host, ["sh", "-c", "umount /usr/sbin/ethtool && rm -f /run/plt-ethtool /run/plt-ethtool-failing"]);
        }
    };
}

/**
 * Traces every program the host's sshd and its sessions start (strace of execve, every argument
 * whole) until the function returned is called, which gives the trace: what any user of the host
 * could have read in a process's arguments.
 */
export async function traceProgramsStartedOn(host: LabHost): Promise<() => Promise<string>> {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "plt-trace-")), "execve");
    const strace = spawn("strace", ["-f", "-qq", "-e", "trace=execve", "-s", "1000000", "-o", file, "-p", String(host.sshdPid)], { stdio: "ignore" });
    const tracer = () => /^TracerPid:\s*(\d+)/m.exec(readFileSync(`/proc/${host.sshdPid}/status`, "utf8"))?.[1];
    for (let i = 0; tracer() !== String(strace.pid); i++) {
        if (i === 200 || strace.exitCode !== null) {
            strace.kill();
            throw new Error(`${host.name}: strace did not attach to sshd (pid ${host.sshdPid}) within 10 s`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    return async () => {
        const ended = new Promise((resolve) => strace.on("exit", resolve));
        strace.kill("SIGINT");
        await ended;
        const trace = readFileSync(file, "utf8");
        rmSync(path.dirname(file), { recursive: true, force: true });
        return trace;
    };
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

export function sshdLog(lab: Lab, host: LabHost): string {
    return readFileSync(path.join(lab.dir, "hosts", host.name, "sshd.log"), "utf8");
}

/**
 * Gives the host a new SSH host key, as a reinstall does, and restarts its sshd (SIGHUP) to
 * present it; the function returned puts the old key back the same way.
 */
export async function newHostKey(lab: Lab, host: LabHost): Promise<() => Promise<void>> {
    const keyFile = path.join(lab.dir, "hosts", host.name, "ssh_host_ed25519_key");
    const saved = [readFileSync(keyFile), readFileSync(`${keyFile}.pub`)];
    const fresh = mkdtempSync(path.join(os.tmpdir(), "plt-host-key-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(fresh, "key")]);
    const install = async (key: Buffer, pub: Buffer) => {
        writeFileSync(keyFile, key, { mode: 0o600 });
        writeFileSync(`${keyFile}.pub`, pub);
        await restartSshd(lab, host);
    };
    await install(readFileSync(path.join(fresh, "key")), readFileSync(path.join(fresh, "key.pub")));
    rmSync(fresh, { recursive: true });
    return () => install(saved[0], saved[1]);
}

async function restartSshd(lab: Lab, host: LabHost): Promise<void> {
    const listening = () => (sshdLog(lab, host).match(/Server listening on /g) ?? []).length;
    const before = listening();
    process.kill(Number(readFileSync(path.join(lab.dir, "hosts", host.name, "sshd.pid"), "utf8").trim()), "SIGHUP");
    for (let i = 0; listening() === before; i++) {
        if (i === 200) {
            throw new Error(`${host.name}: sshd did not listen again within 10 s of SIGHUP:\n${sshdLog(lab, host)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
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
