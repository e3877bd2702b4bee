/**
 * `npm run bench -- programs`: the host CPU of one read by the sysfs read program (what
 * SysfsSet, TransparentHugepages and CpuWakeupLatency run on every preview), which also lists
 * every ledger on the host as every resource's read does. Run here under /bin/sh on plain files
 * (a per-CPU attribute tree and ledgers in a private /var/lib), so a fork the program makes per
 * path or per ledger shows at once, without SSH or the engine around it.
 *
 *   BENCH_TREE=DIR     the checkout whose programs to run (default: this one), to compare commits
 *   BENCH_RUNS=N       reads per sample (default 20); BENCH_ROUNDS=N samples per case (default 5)
 */
import { execFileSync } from "child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import type { Transport } from "../provider/transport/transport";
import { spread } from "./stats";

const tree = path.resolve(process.env.BENCH_TREE ?? path.join(__dirname, ".."));
const runs = Number(process.env.BENCH_RUNS ?? 20);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const CASES: { paths: number; ledgers: number }[] = [
    { paths: 2, ledgers: 0 },
    { paths: 64, ledgers: 0 },
    { paths: 2, ledgers: 8 },
    { paths: 64, ledgers: 8 },
];

/** The argv the tree's readSysfs runs, captured by a transport that runs nothing. */
async function sysfsReadArgv(paths: string[]): Promise<string[]> {
    const { readSysfs } = require(path.join(tree, "provider/sysfs/remote")) as typeof import("../provider/sysfs/remote");
    let argv: readonly string[] = [];
    const capture: Transport = { target: "bench", run: async (a) => ((argv = a), { code: 0, stdout: "", stderr: "" }) };
    await readSysfs(capture, paths);
    return [...argv];
}

/** CPU seconds the children of one shell spent running `argv` `runs` times, ledgers in place under a private /var/lib. */
function childCpuSeconds(argv: string[], ledgers: number): number {
    const setup = Array.from({ length: ledgers }, (_, i) => `mkdir -p /var/lib/pulumi-linux-tuning/kind${i} && printf 'owner\\tp/s/r${i}\\nitem\\t/sys/x${i}\\nrecord\\te30=\\n' > /var/lib/pulumi-linux-tuning/kind${i}/p,s,r${i}.ledger`).join(" && ");
    const script = `mount -t tmpfs none /var/lib ${setup ? `&& ${setup}` : ""} && i=0 && while [ $i -lt ${runs} ]; do "$@" >/dev/null; i=$((i+1)); done && times`;
    const out = execFileSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "bench", ...argv], { encoding: "utf8" });
    const [user, system] = out.trim().split("\n").pop()!.split(/\s+/).map((t) => {
        const m = /^(\d+)m([\d.]+)s$/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
    });
    return user + system;
}

async function main(): Promise<void> {
    const dir = mkdtempSync(path.join(tmpdir(), "plt-bench-programs-"));
    try {
        const rows: { paths: number; ledgers: number; msPerRead: ReturnType<typeof spread> }[] = [];
        for (const c of CASES) {
            const paths = Array.from({ length: c.paths }, (_, i) => {
                const file = path.join(dir, `cpu${i}`, "power", "pm_qos_resume_latency_us");
                mkdirSync(path.dirname(file), { recursive: true });
                writeFileSync(file, "0\n");
                return file;
            });
            const argv = await sysfsReadArgv(paths);
            const samples = Array.from({ length: rounds }, () => (childCpuSeconds(argv, c.ledgers) / runs) * 1000);
            rows.push({ ...c, msPerRead: spread(samples) });
        }
        console.log(`sysfs read program of ${tree}, host CPU per read (ms), median [min-max] of ${rounds} samples of ${runs} reads`);
        console.log("| paths | ledgers | CPU per read |\n|---|---|---|");
        for (const r of rows) {
            console.log(`| ${r.paths} | ${r.ledgers} | ${r.msPerRead.median.toFixed(1)} [${r.msPerRead.min.toFixed(1)}–${r.msPerRead.max.toFixed(1)}] ms |`);
        }
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
