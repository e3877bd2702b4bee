// Medians with min and max per (hosts, tool, operation), as JSON and as the Markdown tables the README shows.
import type { BenchResult, Measurement, Op, Tool } from "./harness";
import { Spread, spread } from "../stats";

export type Stat = Spread;

export interface SummaryRow {
    n: number;
    tool: Tool;
    op: Op;
    runs: number;
    wallS: Stat;
    controllerCpuS: Stat;
    controllerCpuPerHostMs: Stat;
    controllerSetupCpuS?: Stat;
    hostCpuPerHostMs: Stat;
    sshConnectionsPerHost: Stat;
    peakRssMB: Stat;
    load1: Stat;
    /** CPU-s by process role (`processRole`), over the runs that sampled it. */
    controllerCpuByRole?: Record<string, Stat>;
}

const stat = spread;

export function summarize(result: BenchResult): SummaryRow[] {
    const groups = new Map<string, Measurement[]>();
    for (const m of result.measurements) {
        const key = `${m.n}\t${m.tool}\t${m.op}`;
        groups.set(key, [...(groups.get(key) ?? []), m]);
    }
    return [...groups.values()].map((ms) => {
        const { n, tool, op } = ms[0];
        const of = (f: (m: Measurement) => number) => stat(ms.map(f));
        const setup = ms.filter((m) => m.controllerSetupCpuS !== undefined);
        const sampled = ms.filter((m) => m.controllerCpuByRole !== undefined);
        const roles = [...new Set(sampled.flatMap((m) => Object.keys(m.controllerCpuByRole!)))];
        return {
            n,
            tool,
            op,
            runs: ms.length,
            wallS: of((m) => m.wallS),
            controllerCpuS: of((m) => m.controllerCpuS),
            controllerCpuPerHostMs: of((m) => (m.controllerCpuS / n) * 1000),
            ...(setup.length ? { controllerSetupCpuS: stat(setup.map((m) => m.controllerSetupCpuS!)) } : {}),
            hostCpuPerHostMs: of((m) => (m.hostCpuS / n) * 1000),
            sshConnectionsPerHost: of((m) => m.sshConnectionsPerHost),
            peakRssMB: of((m) => m.peakRssMB),
            load1: of((m) => m.load1),
            ...(sampled.length ? { controllerCpuByRole: Object.fromEntries(roles.map((role) => [role, stat(sampled.map((m) => m.controllerCpuByRole![role] ?? 0))])) } : {}),
        };
    });
}

/** The process roles in the order of a run: what the user starts, what it starts. */
const ROLE_ORDER = ["node", "engine", "provider", "pulumi commands", "ansible", "ssh", "other", "unattributed"];

const OP_TITLE: Record<Op, string> = {
    apply: "apply (`pulumi up` / `ansible-playbook`)",
    "drift-check": "drift check (`pulumi preview --refresh` / `ansible-playbook --check --diff`)",
    preview: "plain `pulumi preview`",
    "drift-report": "drift report (`pulumi-linux-tuning drift --stack S`: the same hosts and keys as fleet config, read outside the engine)",
};

export function markdown(result: BenchResult, rows: SummaryRow[]): string {
    const f = (s: Stat, digits: number) => (s.min === s.max ? s.median.toFixed(digits) : `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`);
    const out: string[] = [
        `Machine: ${Object.entries(result.machine)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}. Started ${result.date}.`,
        "",
        "Medians, (min–max) over the runs; CPU in CPU-seconds or milliseconds of CPU.",
        `Floor: one bare \`ssh host true\` costs each host ${Object.entries(result.sshFloorMs)
            .map(([n, ms]) => `${ms.toFixed(1)} ms (${n} hosts)`)
            .join(", ")} of CPU.`,
    ];
    for (const op of Object.keys(OP_TITLE) as Op[]) {
        const mine = rows.filter((r) => r.op === op).sort((a, b) => a.n - b.n || a.tool.localeCompare(b.tool));
        if (mine.length === 0) continue;
        out.push(
            "",
            `**${OP_TITLE[op]}**`,
            "",
            "| hosts | tool | runs | wall s | controller CPU-s | controller ms/host | host ms/host | ssh conn./host | peak RSS MB | load (1 min) |",
            "|---|---|---|---|---|---|---|---|---|---|",
            ...mine.map((r) => `| ${r.n} | ${r.tool} | ${r.runs} | ${f(r.wallS, 2)} | ${f(r.controllerCpuS, 2)} | ${f(r.controllerCpuPerHostMs, 0)} | ${f(r.hostCpuPerHostMs, 0)} | ${f(r.sshConnectionsPerHost, 1)} | ${f(r.peakRssMB, 0)} | ${f(r.load1, 2)} |`),
        );
    }
    const profiled = rows.filter((r) => r.controllerCpuByRole).sort((a, b) => a.n - b.n || a.tool.localeCompare(b.tool) || a.op.localeCompare(b.op));
    if (profiled.length) {
        const roles = ROLE_ORDER.filter((role) => profiled.some((r) => r.controllerCpuByRole![role]?.median));
        out.push(
            "",
            "**Where the controller's CPU goes**: CPU-s by process (medians), sampled every 100 ms from outside the measured cgroup; `node` is the operation's own Node.js process (ours: the program with the Automation API, or the drift report), `engine` the Pulumi CLI running the operation, `unattributed` what the samples missed (a process's last 100 ms, processes shorter than that)",
            "",
            `| hosts | tool | operation | ${roles.join(" | ")} |`,
            `|---|---|---|${roles.map(() => "---|").join("")}`,
            ...profiled.map((r) => `| ${r.n} | ${r.tool} | ${r.op} | ${roles.map((role) => (r.controllerCpuByRole![role]?.median ?? 0).toFixed(2)).join(" | ")} |`),
        );
    }
    if (result.notMeasured.length) {
        out.push("", "Not measured:", "", ...result.notMeasured.map((x) => `- ${x.tool} at ${x.n} hosts: ${x.reason}`));
    }
    return out.join("\n") + "\n";
}
