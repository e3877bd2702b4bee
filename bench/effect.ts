// What the profiles change, measured (issue 11, item 3): for each profile a workload that the
// profile is meant to help, run on the host's defaults and again with the profile applied
// through the real engine, in interleaved rounds (defaults, `up`, profile, `destroy`), with the
// kernel's own counters read by the product's sampler (provider/counters) around each run.
// Run: npm run bench -- effect (as root). Writes bench/results/effect-<date>.json and .md.
//   BENCH_EFFECT_ROWS=sip,hcr,throughput,latency  BENCH_EFFECT_ROUNDS=5  BENCH_EFFECT_QUICK=1 (short runs)
//   BENCH_EFFECT_OUT=<dir> (instead of bench/results)
import { execFile, execFileSync, spawn } from "child_process";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "@pulumi/pulumi/automation";
import { HighConnectionRateProfile, HighThroughputProfile, LowLatencyProfile, SipRouterProfile, lowLatencyPlan, sipRouterPlan, sysctlValues } from "../components";
import { counterRates } from "../provider/counters/rates";
import { Spread, spread } from "./stats";
import { sampleHost } from "../provider/counters/sample";
import { closeAllConnections, connectionSchema, transportFor } from "../provider/transport";
import type { Transport } from "../provider/transport";
import { labStack } from "../tests/integration/engine";
import { Lab, LabHost, connectionTo, labDown, labUp, listenBurst, onHost, sysctlOn } from "../tests/integration/lab";

const run = promisify(execFile);
const LAB_SCRIPT = path.resolve(__dirname, "../tests/lab/lab.sh");
const ALL_ROWS = ["sip", "hcr", "throughput", "latency"] as const;
type RowName = (typeof ALL_ROWS)[number];

export interface EffectOptions {
    rows: RowName[];
    rounds: number;
    /** Short workloads (CI smoke): shapes and counters, not effect sizes. */
    quick: boolean;
    outDir: string;
}

/** One run of a workload: its figure and the counters the sampler saw rise during it. */
interface Run {
    value: number;
    counters: Record<string, number | null>;
    extra?: Record<string, number>;
}

type Summary = Spread;

/** What a row measures, where, and how to read it. */
interface RowDescription {
    row: RowName;
    profile: string;
    where: string;
    workload: string;
    metric: string;
    unit: string;
    better: "lower" | "higher";
    /** Extra figures of each run also summarized in the table. */
    shown: string[];
    notes: string[];
}

export interface RowResult extends RowDescription {
    defaults: Run[];
    tuned: Run[];
    summary: { defaults: Summary; tuned: Summary };
    /** Sysctls the profile could not set on that host (read-only or absent there). */
    skipped: string[];
}

export interface EffectResult {
    date: string;
    machine: { kernel: string; cpus: number; cpuModel: string; memoryGiB: number; loadAverageStart: number[]; loadAverageEnd: number[] };
    rounds: number;
    quick: boolean;
    rows: RowResult[];
}

/** The named counters' increase while `work` runs, read by the product's own sampler. */
async function countersAround<T>(transport: Transport, names: string[], work: () => Promise<T>): Promise<{ result: T; counters: Record<string, number | null> }> {
    const start = await sampleHost(transport);
    const result = await work();
    const rates = counterRates(start, await sampleHost(transport));
    return { result, counters: Object.fromEntries(names.map((n) => [n, rates[n]?.delta ?? null])) };
}

const sshTo = (lab: Lab, host: LabHost) => transportFor(connectionSchema.parse(connectionTo(lab, host)));

function labExec(lab: Lab, host: LabHost, argv: string[]): Promise<string> {
    return run("bash", [LAB_SCRIPT, "exec", lab.dir, host.name, "--", ...argv], { maxBuffer: 16 << 20 }).then((r) => r.stdout);
}

/** Raw /proc/sys contents of keys (null when absent): what "restored byte for byte" is checked against. */
const sysctlPath = (key: string) => `/proc/sys/${key.replace(/\./g, "/")}`;

/** What each of the machine's own files holds (null: absent). */
export function machineFiles(paths: string[]): Record<string, string | null> {
    return Object.fromEntries(
        paths.map((p) => {
            try {
                return [p, readFileSync(p, "utf8")];
            } catch {
                return [p, null];
            }
        }),
    );
}

/**
 * Writes `original` back to the machine's own files, a selection file ("always [madvise] never")
 * as its selected word: what a failed destroy left must not outlive the bench. The paths it could
 * not write.
 */
export function putBack(original: Record<string, string | null>): string[] {
    const failed: string[] = [];
    for (const [path, content] of Object.entries(original)) {
        if (content === null || readFileSync(path, "utf8") === content) {
            continue;
        }
        const selected = /\[([^\]]+)\]/.exec(content)?.[1];
        try {
            writeFileSync(path, `${selected ?? content.trim()}\n`);
        } catch {
            failed.push(path);
        }
    }
    return failed;
}

interface RowSpec extends RowDescription {
    stack: () => Promise<Stack>;
    measure: () => Promise<Run>;
    /** Keys of the machine itself that destroy must give back byte for byte. */
    localKeys?: string[];
    /** Other files of the machine itself the profile changes (THP), checked the same way. */
    localFiles?: string[];
}

async function rounds(spec: RowSpec, count: number): Promise<RowResult> {
    const defaults: Run[] = [];
    const tuned: Run[] = [];
    const skipped = new Set<string>();
    const machinePaths = [...(spec.localKeys ?? []).map(sysctlPath), ...(spec.localFiles ?? [])];
    const original = machinePaths.length > 0 ? machineFiles(machinePaths) : undefined;
    const stack = await spec.stack();
    for (let i = 0; i < count; i++) {
        defaults.push(await spec.measure());
        try {
            try {
                const up = await stack.up();
                for (const k of (up.outputs.skipped?.value as string[] | undefined) ?? []) {
                    skipped.add(k);
                }
                tuned.push(await spec.measure());
            } finally {
                await stack.destroy();
            }
            if (original) {
                const now = machineFiles(machinePaths);
                const changed = Object.keys(original).filter((k) => original[k] !== now[k]);
                if (changed.length) {
                    throw new Error(`${spec.row}: not restored byte for byte after destroy: ${changed.map((k) => `${k} ${JSON.stringify(original[k])} → ${JSON.stringify(now[k])}`).join("; ")}`);
                }
            }
        } catch (e) {
            if (!original) {
                throw e;
            }
            const left = putBack(original);
            throw new Error(`${(e as Error).message}\nThe machine's own values were written back${left.length > 0 ? `, except ${left.join(", ")}: put them back by hand` : ""}.`);
        }
        console.error(`effect ${spec.row} round ${i + 1}/${count}: defaults ${defaults[i].value} vs profile ${tuned[i].value} ${spec.unit}`);
    }
    await stack.workspace.removeStack("lab");
    const { stack: _s, measure: _m, localKeys: _k, localFiles: _f, ...described } = spec;
    return {
        ...described,
        defaults,
        tuned,
        summary: { defaults: spread(defaults.map((r) => r.value)), tuned: spread(tuned.map((r) => r.value)) },
        skipped: [...skipped].sort(),
        notes: original ? [...spec.notes, `every key and file the profile sets on this machine was read before and after each destroy: byte-for-byte equal (${machinePaths.length})`] : spec.notes,
    };
}

const local = transportFor(undefined);
const RAM_GIB = Math.floor(os.totalmem() / 2 ** 30);

function sipRow(quick: boolean): RowSpec {
    const count = quick ? 2000 : 10000;
    const burst = path.resolve(__dirname, "../tests/lab/udp-burst.py");
    return {
        row: "sip",
        profile: "SipRouterProfile",
        where: "this machine (local transport), loopback",
        workload: `${count} × 1000-byte UDP datagrams at a reader that does not read during the burst (tests/lab/udp-burst.py)`,
        metric: "Udp.RcvbufErrors per burst",
        unit: "datagrams",
        better: "lower",
        shown: ["dropPercent"],
        stack: () => labStack("effect-sip", async () => ({ skipped: new SipRouterProfile("sip", { memoryGiB: RAM_GIB, persist: false, evidence: false }).skipped })),
        measure: async () => {
            const { result, counters } = await countersAround(local, ["Udp.RcvbufErrors", "Udp.InErrors"], () => run("python3", [burst, "--count", String(count)]));
            const received = Number(result.stdout.trim());
            return { value: counters["Udp.RcvbufErrors"] ?? NaN, counters, extra: { sent: count, received, dropPercent: (100 * (count - received)) / count } };
        },
        localKeys: Object.keys(sysctlValues(sipRouterPlan({ memoryGiB: RAM_GIB }))),
        notes: [`net.core.rmem_* are read-only in a lab netns, so this row tunes the machine itself (sysctls only: memoryGiB ${RAM_GIB}, persist false, no interface) and destroys after each round`],
    };
}

function hcrRow(lab: Lab, host: LabHost, quick: boolean): RowSpec {
    const seconds = quick ? 1 : 3;
    const ssh = sshTo(lab, host);
    return {
        row: "hcr",
        profile: "HighConnectionRateProfile",
        where: "a lab host (netns, over SSH), its loopback",
        workload: `a listener asking listen(65535) that accepts 100/s; 5000 connects each second for ${seconds} s (tests/lab/listen-burst.py)`,
        metric: "TcpExt.ListenOverflows per burst",
        unit: "handshakes dropped",
        better: "lower",
        shown: [],
        stack: () =>
            labStack("effect-hcr", async () => ({
                skipped: new HighConnectionRateProfile("hcr", { connection: connectionTo(lab, host), connectionsPerSecond: 200000, persist: false, evidence: false }).skipped,
            })),
        measure: async () => {
            const names = ["TcpExt.ListenOverflows", "TcpExt.ListenDrops"];
            const { counters } = await countersAround(ssh, names, () => listenBurst(lab, host, seconds, ["--backlog", "65535", "--burst", "5000"]));
            return { value: counters["TcpExt.ListenOverflows"] ?? NaN, counters };
        },
        notes: ["declared connectionsPerSecond 200000 (100 ms accept stall): somaxconn and tcp_max_syn_backlog 20000; the kernel default somaxconn is 4096"],
    };
}

const LINK_MBIT = 1000;
const ONE_WAY_MS = 100;

function throughputRow(lab: Lab, sender: LabHost, receiver: LabHost, quick: boolean): RowSpec {
    const seconds = quick ? 3 : 15;
    const omit = quick ? 1 : 5;
    const ssh = sshTo(lab, sender);
    return {
        row: "throughput",
        profile: "HighThroughputProfile",
        where: "two lab hosts joined by a user-space delay line (bench/delay-line.py: TUN devices, 100 ms each way, tbf 1 Gbit/s)",
        workload: `one iperf3 TCP stream for ${seconds} s (first ${omit} s omitted), ${ONE_WAY_MS * 2} ms RTT, ${LINK_MBIT} Mbit/s path, MTU 9000`,
        metric: "iperf3 received throughput",
        unit: "Mbit/s",
        better: "higher",
        shown: ["meanRttMs"],
        stack: () =>
            labStack("effect-throughput", async () => {
                const facts = { linkGbps: LINK_MBIT / 1000, rttMs: ONE_WAY_MS * 2, persist: false, evidence: false as const };
                const a = new HighThroughputProfile("tx", { connection: connectionTo(lab, sender), ...facts });
                const b = new HighThroughputProfile("rx", { connection: connectionTo(lab, receiver), ...facts });
                return { skipped: pulumi.all([a.skipped, b.skipped]).apply(([x, y]) => [...new Set([...x, ...y])]) };
            }),
        measure: async () => {
            await labExec(lab, receiver, ["iperf3", "-s", "-1", "-D", "-B", "172.31.255.2"]);
            await new Promise((r) => setTimeout(r, 300));
            const { result, counters } = await countersAround(ssh, ["Tcp.RetransSegs", "Tcp.OutSegs"], () => labExec(lab, sender, ["iperf3", "-c", "172.31.255.2", "-t", String(seconds), "-O", String(omit), "-J"]));
            const end = JSON.parse(result).end;
            const stream = end.streams[0].sender;
            return { value: Math.round(end.sum_received.bits_per_second / 1e5) / 10, counters, extra: { meanRttMs: stream.mean_rtt / 1000, retransmits: end.sum_sent.retransmits } };
        },
        notes: [
            "this kernel has no sch_netem: the delay is a user-space forwarder (python3) between TUN devices in the two hosts, FIFO, no loss, each packet held exactly 100 ms; tc tbf caps each direction at 1 Gbit/s",
            "the profile is applied to both ends with the path declared (linkGbps 1, rttMs 200): tcp_rmem/tcp_wmem max 48 MiB; net.core.rmem_max/wmem_max are read-only in a lab netns and default_qdisc/netdev_max_backlog do not exist there (skipped)",
            `the hosts' defaults (this machine's): sender tcp_wmem ${sysctlOn(lab, sender, "net.ipv4.tcp_wmem")}, receiver tcp_rmem ${sysctlOn(lab, receiver, "net.ipv4.tcp_rmem")}, ${sysctlOn(lab, sender, "net.ipv4.tcp_congestion_control")}`,
        ],
    };
}

/** "---> percentile 99.900 =   23.456" lines (and <MIN>/<MAX>) of sockperf's report, in µs. */
export function sockperfPercentiles(out: string): Record<string, number> {
    const found: Record<string, number> = {};
    for (const m of out.matchAll(/--->\s+(?:percentile\s+([\d.]+)|<(MIN|MAX)>\s+observation)\s+=\s+([\d.]+)/g)) {
        found[m[1] ? `p${Number(m[1])}` : m[2].toLowerCase()] = Number(m[3]);
    }
    return found;
}

function latencyRow(lab: Lab, client: LabHost, quick: boolean): RowSpec {
    const seconds = quick ? 2 : 10;
    return {
        row: "latency",
        profile: "LowLatencyProfile",
        where: "sockperf server on this machine (profile applied here, local transport), client in a lab host over its veth",
        workload: `sockperf ping-pong, UDP, 64-byte messages, ${seconds} s`,
        metric: "round-trip p50",
        unit: "µs",
        better: "lower",
        shown: ["p99", "p99.9"],
        stack: () => labStack("effect-latency", async () => ({ skipped: new LowLatencyProfile("ll", { persist: false, evidence: false }).skipped })),
        measure: async () => {
            const server = rootAddressTowards(client);
            const daemon = spawn("sockperf", ["server", "-i", server, "-p", "11111"], { stdio: "ignore" });
            try {
                await new Promise((r) => setTimeout(r, 500));
                const { result, counters } = await countersAround(local, ["softnet.time_squeeze", "softnet.dropped"], () =>
                    labExec(lab, client, ["sockperf", "ping-pong", "-i", server, "-p", "11111", "-m", "64", "-t", String(seconds), "--full-rtt"]),
                );
                const p = sockperfPercentiles(result);
                return { value: p.p50, counters, extra: p };
            } finally {
                daemon.kill();
            }
        },
        localKeys: Object.keys(sysctlValues(lowLatencyPlan())),
        localFiles: ["/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/mm/transparent_hugepage/defrag"],
        notes: [
            "busy_read/busy_poll are global keys (absent in a netns), so the profile is applied to the machine itself and destroyed after each round; they apply to the lab host's sockets too",
            "busy polling polls a NIC driver's queue; this path is a veth, so little difference is expected. The profile's NIC coalescing and IRQ parts are not applied (the machine's eth0 is never changed) and the governor is skipped (no cpufreq on this VM)",
        ],
    };
}

/** This machine's address on the veth that leads to a lab host. */
function rootAddressTowards(host: LabHost): string {
    const out = execFileSync("ip", ["-o", "-4", "route", "get", host.address], { encoding: "utf8" });
    return /\bsrc\s+(\S+)/.exec(out)![1];
}

export async function runEffect(options: EffectOptions): Promise<{ result: EffectResult; files: string[] }> {
    const loadAverageStart = os.loadavg();
    const rows: RowResult[] = [];
    const needsLab = options.rows.some((r) => r !== "sip");
    const lab = needsLab ? labUp(options.rows.includes("throughput") ? 3 : 1) : undefined;
    try {
        for (const row of options.rows) {
            if (row === "sip") {
                rows.push(await rounds(sipRow(options.quick), options.rounds));
            } else if (row === "hcr") {
                rows.push(await rounds(hcrRow(lab!, lab!.hosts[0], options.quick), options.rounds));
            } else if (row === "throughput") {
                lab!.hosts.slice(1).forEach((h) => machineCongestionControl(lab!, h));
                const line = await delayLine(lab!.hosts[1], lab!.hosts[2]);
                try {
                    rows.push(await rounds(throughputRow(lab!, lab!.hosts[1], lab!.hosts[2], options.quick), options.rounds));
                } finally {
                    line.kill();
                }
            } else {
                rows.push(await rounds(latencyRow(lab!, lab!.hosts[0], options.quick), options.rounds));
            }
        }
    } finally {
        closeAllConnections();
        if (lab) {
            labDown(lab);
        }
    }
    const cpus = os.cpus();
    const result: EffectResult = {
        date: new Date().toISOString(),
        machine: { kernel: os.release(), cpus: cpus.length, cpuModel: cpus[0]?.model ?? "", memoryGiB: RAM_GIB, loadAverageStart, loadAverageEnd: os.loadavg() },
        rounds: options.rounds,
        quick: options.quick,
        rows,
    };
    mkdirSync(options.outDir, { recursive: true });
    const base = path.join(options.outDir, `effect-${result.date.slice(0, 10)}`);
    writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + "\n");
    writeFileSync(`${base}.md`, markdown(result));
    return { result, files: [`${base}.json`, `${base}.md`] };
}

/**
 * A new netns starts with the machine's congestion control; the lab boots its hosts on reno
 * instead (it treats bbr as the module tcp_bbr, not loaded). Give a host the machine's again, so
 * "defaults" are this machine's defaults.
 */
function machineCongestionControl(lab: Lab, host: LabHost): void {
    const cc = readFileSync("/proc/sys/net/ipv4/tcp_congestion_control", "utf8").trim();
    onHost(lab, host, ["sh", "-c", 'modprobe "tcp_$1" 2>/dev/null; sysctl -q -w net.ipv4.tcp_congestion_control="$1"', "sh", cc]);
}

/** The delay line between two lab hosts; resolves once both TUN ends are up. */
function delayLine(a: LabHost, b: LabHost): Promise<{ kill: () => void }> {
    const child = spawn("python3", [path.resolve(__dirname, "delay-line.py"), "--ns-a", a.netns, "--ns-b", b.netns, "--delay-ms", String(ONE_WAY_MS), "--rate-mbit", String(LINK_MBIT)], {
        stdio: ["ignore", "pipe", "inherit"],
    });
    return new Promise((resolve, reject) => {
        child.stdout.once("data", () => resolve({ kill: () => child.kill() }));
        child.once("exit", (code) => reject(new Error(`delay-line.py exited with ${code}`)));
    });
}

function markdown(r: EffectResult): string {
    const f = (x: number) => (Number.isInteger(x) || Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1));
    const cell = (s: Summary) => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
    const lines = [
        `Measured ${r.date.slice(0, 16).replace("T", " ")} UTC on Linux ${r.machine.kernel}, ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB; load average ${load(r.machine.loadAverageStart)} at the start, ${load(r.machine.loadAverageEnd)} at the end. ${r.rounds} interleaved rounds${r.quick ? " (quick)" : ""}; medians (min–max).`,
        "",
        "| profile | where | workload | metric | defaults | profile | also (median, defaults → profile) |",
        "|---|---|---|---|---|---|---|",
    ];
    for (const row of r.rows) {
        const m = (runs: Run[], pick: (x: Run) => number | null | undefined) => f(spread(runs.map((x) => pick(x) ?? NaN)).median);
        const counters = [
            ...row.shown.map((e) => `${e} ${m(row.defaults, (x) => x.extra?.[e])} → ${m(row.tuned, (x) => x.extra?.[e])}`),
            ...Object.keys(row.defaults[0]?.counters ?? {}).map((c) => `${c} ${m(row.defaults, (x) => x.counters[c])} → ${m(row.tuned, (x) => x.counters[c])}`),
        ].join("; ");
        lines.push(`| ${row.profile} | ${row.where} | ${row.workload} | ${row.metric} (${row.unit}, ${row.better} is better) | ${cell(row.summary.defaults)} | ${cell(row.summary.tuned)} | ${counters} |`);
    }
    lines.push("", ...r.rows.flatMap((row) => [...row.notes, ...(row.skipped.length ? [`skipped on that host: ${row.skipped.join(", ")}`] : [])].map((n) => `- ${row.profile}: ${n}`)), "");
    return lines.join("\n");
}

if (require.main === module) {
    const rows = (process.env.BENCH_EFFECT_ROWS ?? ALL_ROWS.join(",")).split(",") as RowName[];
    const unknown = rows.filter((r) => !ALL_ROWS.includes(r));
    if (unknown.length) {
        console.error(`unknown rows: ${unknown.join(", ")} (known: ${ALL_ROWS.join(", ")})`);
        process.exit(2);
    }
    runEffect({ rows, rounds: Number(process.env.BENCH_EFFECT_ROUNDS ?? 5), quick: process.env.BENCH_EFFECT_QUICK === "1", outDir: process.env.BENCH_EFFECT_OUT ?? path.resolve(__dirname, "results") }).then(
        ({ result, files }) => {
            console.log(markdown(result));
            console.error(`wrote ${files.join(", ")}`);
            process.exit(0);
        },
        (e) => {
            console.error(e);
            process.exit(1);
        },
    );
}
