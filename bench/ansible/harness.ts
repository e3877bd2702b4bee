// Ours (one SysctlSet per host through the real engine) against Ansible (ansible.posix.sysctl
// with reload) on the same lab hosts and the same 16 sysctls. Every operation runs as its own
// process tree inside a fresh cgroup, so its controller CPU is what the kernel charged to
// that tree (ssh ControlPersist masters that outlive ansible-playbook included); the lab hosts'
// sshd (PID 1 of each host, every session a descendant) sit in one more cgroup, so host CPU is
// what the sessions cost inside the hosts. SSH connections come from each sshd's log.
import { execFile, execFileSync } from "child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from "fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { FLEET_NAME } from "../../components/fleet/drift";
import type { FleetConfigInput } from "../../components/fleet/inventory";
import { CONFIG_NAMESPACE } from "../../components/fleet/inventory";
import { partResourceName } from "../../provider/host-tuning/plan";
import { CGROUP_ROOT, cgroupUsageNs } from "./cgroup";
import { PASSPHRASE, pulumiBin } from "../../tests/integration/engine";
import { Lab, LabHost, connectionTo, labDown, labUp, onHost, sshConnectionCount } from "../../tests/integration/lab";
import { SETTINGS } from "../settings";
import { processRole } from "./roles";

export type Tool = "ours" | "ansible-tuned" | "ansible-default";
/** `drift-report` is ours only: `pulumi-linux-tuning drift`, which reads the hosts outside the engine. */
export type Op = "apply" | "drift-check" | "preview" | "drift-report";

export interface Measurement {
    n: number;
    tool: Tool;
    op: Op;
    round: number;
    wallS: number;
    controllerCpuS: number;
    /** Ours only: CPU the operation's process spent before the engine started (loading the SDK, selecting the stack). */
    controllerSetupCpuS?: number;
    hostCpuS: number;
    sshConnectionsPerHost: number;
    /** Largest sum of the resident sets of the operation's processes, sampled every 100 ms. */
    peakRssMB: number;
    /** Controller CPU-s by the role of the process that spent it (`processRole`), sampled every 100 ms; `unattributed` is the rest. */
    controllerCpuByRole?: Record<string, number>;
    hostsReached: number;
    load1: number;
}

export interface NotMeasured {
    n: number;
    tool: Tool;
    reason: string;
}

export interface BenchPlan {
    /** Host counts and rounds per count. */
    sizes: { n: number; rounds: number }[];
    tools: (n: number) => Tool[];
    /**
     * Epoch ms by which the plan must end: a tool's round does not start when the same round at the
     * previous size, scaled by the host count, would run past it; it is recorded as not measured.
     */
    deadline?: number;
    log?: (line: string) => void;
    /** Called after each size with the result so far (to keep partial results). */
    progress?: (result: BenchResult) => void;
}

export interface BenchResult {
    date: string;
    machine: Record<string, string | number>;
    /** Host CPU of one bare `ssh host true` per host (OpenSSH client), by host count: the floor of any remote operation. */
    sshFloorMs: Record<number, number>;
    measurements: Measurement[];
    notMeasured: NotMeasured[];
}

const REPO = path.resolve(__dirname, "../..");
const LAB_SIZE = 50;
const PERSIST_ANSIBLE = "/etc/sysctl.d/90-ansible-bench.conf";

function cgroupNew(name: string): string {
    const dir = path.join(CGROUP_ROOT, `plt-bench-${process.pid}-${name}`);
    mkdirSync(dir);
    return dir;
}

const cgroupUsage = cgroupUsageNs;
const cgroupPids = (dir: string) => readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);

/** Ends what is left in a cgroup we made (ssh masters after ansible-playbook) and removes it. */
function cgroupRemove(dir: string): void {
    for (const pid of cgroupPids(dir)) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
    for (let i = 0; i < 50 && cgroupPids(dir).length > 0; i++) execFileSync("sleep", ["0.1"]);
    rmdirSync(dir);
}

/** CPU ticks (user + system) and command line of a process, or undefined once it is gone. */
function processTicks(pid: number): { ticks: number; argv: string[] } | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return { ticks: Number(fields[11]) + Number(fields[12]), argv: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean) };
    } catch {
        return undefined;
    }
}

const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

function rssBytes(pid: number): number {
    try {
        return Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
    } catch {
        return 0;
    }
}

/** The hosts of one or more labs (a lab has at most 60 hosts: one /24 of /30s), with each host's own key. */
interface Fleet {
    labs: Lab[];
    hosts: { lab: Lab; host: LabHost }[];
    knownHosts: string;
    hostsCgroup: string;
}

function fleetUp(n: number, dir: string): Fleet {
    const labs: Lab[] = [];
    for (let left = n; left > 0; left -= LAB_SIZE) labs.push(labUp(Math.min(LAB_SIZE, left)));
    const hosts = labs.flatMap((lab) => lab.hosts.map((host) => ({ lab, host })));
    const knownHosts = path.join(dir, `known_hosts-${n}`);
    writeFileSync(knownHosts, labs.map((lab) => readFileSync(lab.knownHostsPath, "utf8")).join(""));
    const hostsCgroup = cgroupNew(`hosts-${n}`);
    for (const { host } of hosts) writeFileSync(path.join(hostsCgroup, "cgroup.procs"), String(host.sshdPid));
    return { labs, hosts, knownHosts, hostsCgroup };
}

function fleetDown(fleet: Fleet): void {
    for (const lab of fleet.labs) labDown(lab);
    cgroupRemove(fleet.hostsCgroup);
}

function sshFloor(fleet: Fleet): number {
    const before = cgroupUsage(fleet.hostsCgroup);
    for (const { lab, host } of fleet.hosts) {
        execFileSync("ssh", ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${fleet.knownHosts}`, "-i", lab.privateKeyPath, "-p", String(host.port), `root@${host.address}`, "true"]);
    }
    return (cgroupUsage(fleet.hostsCgroup) - before) / 1e6 / fleet.hosts.length;
}

const connections = (fleet: Fleet) => fleet.hosts.map(({ lab, host }) => sshConnectionCount(lab, host));

type Sample = Omit<Measurement, "n" | "tool" | "op" | "round" | "load1">;

/** The sampled processes' CPU by role; what the samples missed (processes shorter than a sample, the last 100 ms of each) is `unattributed`. */
function byRole(lastSeen: ReadonlyMap<number, { ticks: number; role: string }>, totalCpuS: number): Record<string, number> {
    const roles: Record<string, number> = {};
    for (const { ticks, role } of lastSeen.values()) roles[role] = (roles[role] ?? 0) + ticks / TICKS_PER_SECOND;
    const attributed = Object.values(roles).reduce((a, b) => a + b, 0);
    return { ...roles, unattributed: Math.max(0, totalCpuS - attributed) };
}

/**
 * Runs one operation in a fresh cgroup and measures it. `argvFor(cgroup)` gives the command; unless
 * `joinsItself`, a shell puts itself in the cgroup and execs it.
 */
async function measured(fleet: Fleet, argvFor: (cgroup: string) => string[], env: NodeJS.ProcessEnv, joinsItself: boolean, cwd?: string): Promise<Sample & { stdout: string }> {
    const cgroup = cgroupNew("op");
    const argv = argvFor(cgroup);
    const command = joinsItself ? argv : ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, ...argv];
    const hostCpuBefore = cgroupUsage(fleet.hostsCgroup);
    const connBefore = connections(fleet);
    let peak = 0;
    // The sampler runs in this process, outside the measured cgroup: it costs the operation nothing.
    const lastSeen = new Map<number, { ticks: number; role: string }>();
    // A process that joins the cgroup itself spent CPU before (ts-node compiling): counted from its first sample.
    let joinedAt: number | undefined;
    let rootPid: number | undefined;
    const sampler = setInterval(() => {
        const pids = cgroupPids(cgroup);
        peak = Math.max(peak, pids.reduce((sum, pid) => sum + rssBytes(pid), 0));
        for (const pid of pids) {
            const seen = processTicks(pid);
            if (!seen) continue;
            if (joinsItself && pid === rootPid && joinedAt === undefined) joinedAt = seen.ticks;
            // An exited process not yet reaped has no command line left: it keeps the role it had.
            const role = seen.argv.length > 0 ? processRole(seen.argv) : (lastSeen.get(pid)?.role ?? "other");
            lastSeen.set(pid, { ticks: seen.ticks - (pid === rootPid ? (joinedAt ?? 0) : 0), role });
        }
    }, 100);
    const start = process.hrtime.bigint();
    try {
        const stdout = await new Promise<string>((resolve, reject) => {
            rootPid = execFile(command[0], command.slice(1), { env, cwd, maxBuffer: 256 << 20 }, (error, out, err) =>
                error ? reject(new Error(`${argv.join(" ")}: ${error.message}\n${err.slice(-4000)}\n${out.slice(-4000)}`)) : resolve(out),
            ).pid;
        });
        const wallS = Number(process.hrtime.bigint() - start) / 1e9;
        const controllerCpuS = cgroupUsage(cgroup) / 1e9;
        const hostCpuS = (cgroupUsage(fleet.hostsCgroup) - hostCpuBefore) / 1e9;
        const deltas = connections(fleet).map((c, i) => c - connBefore[i]);
        return {
            wallS,
            controllerCpuS,
            hostCpuS,
            peakRssMB: peak / 2 ** 20,
            sshConnectionsPerHost: deltas.reduce((a, b) => a + b, 0) / deltas.length,
            hostsReached: deltas.filter((d) => d > 0).length,
            controllerCpuByRole: byRole(lastSeen, controllerCpuS),
            stdout,
        };
    } finally {
        clearInterval(sampler);
        cgroupRemove(cgroup);
    }
}

type Runner = (op: Op | "reset") => Promise<Sample>;

async function oursRunner(fleet: Fleet, dir: string): Promise<Runner> {
    const n = fleet.hosts.length;
    const root = mkdtempSync(path.join(dir, `ours-${n}-`));
    const workDir = path.join(root, "work");
    const backend = path.join(root, "state");
    mkdirSync(workDir);
    mkdirSync(backend);
    symlinkSync(path.join(REPO, "node_modules"), path.join(workDir, "node_modules"));
    const bin = pulumiBin();
    const env = {
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_HOME: path.join(root, "home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PATH: `${bin}:${process.env.PATH}`,
    };
    const project = `bench-${n}`;
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName: "bench", projectName: project, program: async () => undefined },
        { workDir, envVars: env, projectSettings: { name: project, runtime: "nodejs", backend: { url: `file://${backend}` } } },
    );
    // Each SysctlSet is named as the fleet program's sysctls part of that host is, so it writes the
    // same sysctl.d file, and the drift command, reading the same hosts as a fleet, finds no drift.
    const hosts = fleet.hosts.map(({ lab, host }) => {
        const name = `${lab.id}-${host.name}`;
        return { name, connection: connectionTo(lab, host), resourceName: partResourceName(`${FLEET_NAME}-${name}`, "sysctls") };
    });
    await setDriftReportConfig(fleet, stack);
    const childOp = { apply: "up", "drift-check": "refresh-preview", preview: "preview", reset: "destroy" } as const;
    const tsNode = path.join(REPO, "node_modules/ts-node/dist/bin.js");
    return async (op) => {
        if (op === "drift-report") {
            // Exit 1 (drift or an unreachable host) fails the run: after apply there must be none.
            const { stdout, ...sample } = await measured(fleet, () => ["node", path.join(REPO, "bin/components/fleet/cli.js"), "drift", "--stack", "bench"], { ...process.env, ...env }, false, workDir);
            if (!/^no drift across (\d+) host/m.test(stdout) || Number(/across (\d+) host/.exec(stdout)![1]) !== n) throw new Error(`drift report after apply:\n${stdout.slice(-2000)}`);
            return sample;
        }
        const specFile = path.join(root, "op.json");
        const m = await measured(
            fleet,
            (cgroup) => {
                writeFileSync(specFile, JSON.stringify({ cgroup, op: childOp[op], workDir, env, pulumiRoot: path.dirname(bin), project, hosts, settings: SETTINGS }), { mode: 0o600 });
                // ts-node compiles ours-op.ts before its first line, which joins the cgroup, runs.
                return ["node", tsNode, "--transpile-only", "-P", path.join(REPO, "tests/tsconfig.json"), path.join(__dirname, "ours-op.ts"), specFile];
            },
            { ...process.env, ...env },
            true,
        );
        const { stdout, ...sample } = m;
        return { ...sample, controllerSetupCpuS: JSON.parse(stdout.trim().split("\n").pop()!).setupCpuNs / 1e9 };
    };
}

/**
 * Ours' stack also holds the same hosts and 16 sysctls as fleet config (what the default program
 * reads), for `pulumi-linux-tuning drift --stack bench`: it reads that config and exports the
 * stack's state, one resource per host, so the export it pays grows with the fleet as it would.
 */
async function setDriftReportConfig(fleet: Fleet, stack: Stack): Promise<void> {
    const config: FleetConfigInput = {
        defaults: { user: "root" },
        hosts: fleet.hosts.map(({ lab, host }) => ({
            name: `${lab.id}-${host.name}`,
            connection: { host: host.address, port: host.port, hostKey: host.hostKey, privateKeyPath: lab.privateKeyPath },
        })),
        assignments: [{ select: {}, sysctls: SETTINGS }],
    };
    await stack.setAllConfig(Object.fromEntries(Object.entries(config).map(([key, value]) => [`${CONFIG_NAMESPACE}:${key}`, { value: JSON.stringify(value) }])));
}

function ansibleRunner(fleet: Fleet, dir: string, tuned: boolean): Runner {
    const n = fleet.hosts.length;
    const root = mkdtempSync(path.join(dir, `ansible-${tuned ? "tuned" : "default"}-${n}-`));
    const inventory = path.join(root, "hosts.ini");
    const hostVars = (lab: Lab, host: LabHost) =>
        [`${lab.id}-${host.name}`, `ansible_host=${host.address}`, `ansible_port=${host.port}`, "ansible_user=root", `ansible_ssh_private_key_file=${lab.privateKeyPath}`].join(" ");
    writeFileSync(
        inventory,
        [
            "[lab]",
            ...fleet.hosts.map(({ lab, host }) => hostVars(lab, host)),
            "[lab:vars]",
            `ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile=${fleet.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes'`,
            ...(tuned ? ["ansible_python_interpreter=/usr/bin/python3"] : []),
            "",
        ].join("\n"),
    );
    const settings = Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, Array.isArray(v) ? v.join(" ") : String(v)]));
    const originals = Object.keys(SETTINGS).map((key) => `${key}=${onHost(fleet.hosts[0].lab, fleet.hosts[0].host, ["sysctl", "-n", key]).trim().split(/\s+/).join(" ")}`);
    return async (op) => {
        if (op === "reset") {
            const start = process.hrtime.bigint();
            for (const { lab, host } of fleet.hosts) onHost(lab, host, ["sh", "-c", 'f=$1; shift; rm -f "$f" && sysctl -q -w "$@"', "sh", PERSIST_ANSIBLE, ...originals]);
            return { wallS: Number(process.hrtime.bigint() - start) / 1e9, controllerCpuS: 0, hostCpuS: 0, peakRssMB: 0, sshConnectionsPerHost: 0, hostsReached: 0 };
        }
        // Each operation its own ssh control dir: ControlPersist helps within a run, not across runs.
        const controlDir = mkdtempSync(path.join(root, "cp-"));
        const env = {
            ...process.env,
            ANSIBLE_CONTROL_PATH_DIR: controlDir,
            ANSIBLE_LOCAL_TEMP: path.join(root, "tmp"),
            ANSIBLE_HOST_KEY_CHECKING: "True",
            ANSIBLE_RETRY_FILES_ENABLED: "False",
            ANSIBLE_NOCOLOR: "1",
            ...(tuned ? { ANSIBLE_FORKS: String(n), ANSIBLE_PIPELINING: "True", ANSIBLE_SSH_ARGS: "-C -o ControlMaster=auto -o ControlPersist=600s" } : {}),
        };
        const argv = ["ansible-playbook", "-i", inventory, path.join(__dirname, "playbook.yml"), "--extra-vars", JSON.stringify({ settings, gather: !tuned }), ...(op === "drift-check" ? ["--check", "--diff"] : [])];
        const { stdout, ...sample } = await measured(fleet, () => argv, env, false);
        const recap = stdout.slice(stdout.indexOf("PLAY RECAP"));
        const ok = (recap.match(/\bok=\d+/g) ?? []).length;
        if (ok !== n || /unreachable=[1-9]|failed=[1-9]/.test(recap)) throw new Error(`ansible-playbook did not reach all ${n} hosts:\n${recap}`);
        return sample;
    };
}

/** Runs the plan: per size, rounds in which the tools take turns (the first tool rotates), each tool apply, drift check, preview, reset. */
export async function runBench(plan: BenchPlan): Promise<BenchResult> {
    const log = plan.log ?? ((line: string) => console.error(line));
    const dir = mkdtempSync(path.join(tmpdir(), "plt-bench-"));
    try {
        return await runSizes(plan, dir, log);
    } finally {
        // Stacks, inventories and the specs holding the (torn-down) labs' keys.
        rmSync(dir, { recursive: true, force: true });
    }
}

async function runSizes(plan: BenchPlan, dir: string, log: (line: string) => void): Promise<BenchResult> {
    const result: BenchResult = { date: new Date().toISOString(), machine: machine(), sshFloorMs: {}, measurements: [], notMeasured: [] };
    for (const { n, rounds } of plan.sizes) {
        const tools = plan.tools(n);
        if (plan.deadline && Date.now() > plan.deadline) {
            tools.forEach((tool) => result.notMeasured.push({ n, tool, reason: "out of time before this size started" }));
            continue;
        }
        const fleet = fleetUp(n, dir);
        try {
            result.sshFloorMs[n] = sshFloor(fleet);
            const runners = new Map<Tool, Runner>();
            for (const tool of tools) runners.set(tool, tool === "ours" ? await oursRunner(fleet, dir) : ansibleRunner(fleet, dir, tool === "ansible-tuned"));
            const done = new Map<Tool, number>(tools.map((t) => [t, 0]));
            const skipped = new Map<Tool, string>();
            for (let round = 0; round < rounds; round++) {
                for (let i = 0; i < tools.length; i++) {
                    const tool = tools[(round + i) % tools.length];
                    const late = plan.deadline ? lateBy(result, tool, n, plan.deadline) : undefined;
                    if (late) {
                        skipped.set(tool, late);
                        continue;
                    }
                    const run = runners.get(tool)!;
                    for (const op of tool === "ours" ? (["apply", "drift-check", "preview", "drift-report"] as const) : (["apply", "drift-check"] as const)) {
                        const sample = await run(op);
                        const m: Measurement = { n, tool, op, round, ...sample, load1: loadavg()[0] };
                        result.measurements.push(m);
                        log(`n=${n} round=${round} ${tool} ${op}: wall ${m.wallS.toFixed(2)} s, controller ${m.controllerCpuS.toFixed(2)} CPU-s, hosts ${m.hostCpuS.toFixed(2)} CPU-s, ${m.sshConnectionsPerHost.toFixed(2)} ssh/host, ${m.peakRssMB.toFixed(0)} MB, reached ${m.hostsReached}/${n}, load ${m.load1.toFixed(2)}`);
                    }
                    await run("reset");
                    done.set(tool, done.get(tool)! + 1);
                }
            }
            for (const [tool, count] of done) if (count < rounds) result.notMeasured.push({ n, tool, reason: `${count} of ${rounds} rounds done: ${skipped.get(tool)}` });
        } finally {
            fleetDown(fleet);
        }
        plan.progress?.(result);
    }
    return result;
}

/** Why a round of `tool` at `n` hosts would end after the deadline, from its last round at a smaller size; undefined if it fits. */
function lateBy(result: BenchResult, tool: Tool, n: number, deadline: number): string | undefined {
    const left = (deadline - Date.now()) / 60_000;
    if (left <= 0) return "out of time";
    const last = result.measurements.filter((m) => m.tool === tool && m.n <= n);
    if (last.length === 0) return undefined;
    const prev = last[last.length - 1];
    const roundS = last.filter((m) => m.n === prev.n && m.round === prev.round).reduce((sum, m) => sum + m.wallS, 0);
    const estimate = (roundS * n) / prev.n / 60;
    return estimate > left ? `out of time: a round here would take about ${estimate.toFixed(0)} min (its ${prev.n}-host round took ${(roundS / 60).toFixed(1)} min, scaled by the host count), ${left.toFixed(0)} min were left` : undefined;
}

function machine(): Record<string, string | number> {
    const version = (argv: string[]) => {
        try {
            return execFileSync(argv[0], argv.slice(1), { encoding: "utf8" }).split("\n")[0].trim();
        } catch {
            return "absent";
        }
    };
    return {
        cpu: cpus()[0]?.model ?? "unknown",
        cores: cpus().length,
        memoryGB: Math.round(totalmem() / 2 ** 30),
        kernel: release(),
        node: process.version,
        pulumi: version([path.join(pulumiBin(), "pulumi"), "version"]),
        ansible: version(["ansible-playbook", "--version"]),
    };
}
