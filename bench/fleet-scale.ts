// The default fleet program at 5, 20 and 50 lab hosts: one stack, versus the same fleet sharded
// by label into 4 stacks run in parallel (`pulumi-linux-tuning shard` + one `rollout` process per
// shard, as a CI matrix runs them). Wall time of preview before the first up, up, a steady-state
// preview and preview --refresh, and for the one stack the CPU the program's process spends in a
// steady preview (the inline program runs in this process: resource construction, provider
// serialization, registration). Run: npm run bench -- fleet (as root); BENCH_FLEET_SIZES=50,200
// picks the sizes, BENCH_FLEET_SHARDED=0 measures the one stack only.
import { execFile } from "child_process";
import * as path from "path";
import { promisify } from "util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { fleetProgram } from "../components/fleet";
import { labFleetConfig } from "../tests/lab/stack-config";
import { labProject } from "../tests/integration/engine";
import { labDown, labUp } from "../tests/integration/lab";

const SIZES = (process.env.BENCH_FLEET_SIZES ?? "5,20,50").split(",").map(Number);
const SHARDS = 4;
const SHARDED = process.env.BENCH_FLEET_SHARDED !== "0";
const CLI = path.resolve(__dirname, "../bin/components/fleet/cli.js");

async function timed(fn: () => Promise<unknown>): Promise<number> {
    const start = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Seconds of this process's CPU (user + system) while fn runs. */
async function cpuOf(fn: () => Promise<unknown>): Promise<number> {
    const start = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1e6;
}

async function main() {
    const rows: string[] = [];
    for (const size of SIZES) {
        const lab = labUp(size);
        try {
            const project = labProject(`bench-fleet-${size}`);
            const env = project.env as Record<string, string>;
            const config = labFleetConfig(lab);
            config.hosts = config.hosts.map((h, i) => ({ ...h, labels: { ...h.labels, shard: `s${i % SHARDS}` } }));
            config.rollout = { serial: [1, "100%"] };
            const ws = await LocalWorkspace.create({ workDir: project.dir, envVars: env });
            await ws.createStack("fleet");
            await ws.setAllConfig("fleet", Object.fromEntries(Object.entries(config).map(([k, v]) => [`pulumi-linux-tuning:${k}`, { value: JSON.stringify(v) }])));
            const one = await LocalWorkspace.selectStack({ stackName: "fleet", projectName: "pulumi-linux-tuning", program: async () => fleetProgram() }, { workDir: project.dir, envVars: env });

            const single = {
                preview: await timed(() => one.preview()),
                up: await timed(() => one.up()),
                steady: await timed(() => one.preview()),
                refresh: await timed(() => one.preview({ refresh: true })),
                programCpu: await cpuOf(() => one.preview()),
            };
            await one.destroy();
            const f = (x: number) => x.toFixed(1);
            rows.push(`| ${size} | one stack | ${f(single.preview)} | ${f(single.up)} | ${f(single.steady)} | ${f(single.refresh)} | ${single.programCpu.toFixed(2)} |`);
            if (!SHARDED) {
                console.error(rows.slice(-1).join("\n"));
                continue;
            }

            const cli = (...args: string[]) => promisify(execFile)("node", [CLI, ...args, "--cwd", project.dir], { env: project.env, maxBuffer: 64 << 20 });
            const matrix = JSON.parse((await cli("shard", "--stack", "fleet", "--by", "shard")).stdout) as { include: { stack: string }[] };
            const stacks = matrix.include.map((m) => m.stack);
            const parallel = (...args: string[]) => timed(() => Promise.all(stacks.map((s) => cli(...args, "--stack", s))));
            const sharded = {
                preview: await parallel("rollout", "--preview"),
                up: await parallel("rollout"),
                steady: await parallel("rollout", "--preview"),
                refresh: await timed(() => Promise.all(stacks.map((s) => LocalWorkspace.selectStack({ stackName: s, projectName: "pulumi-linux-tuning", program: async () => fleetProgram() }, { workDir: project.dir, envVars: env }).then((st) => st.preview({ refresh: true }))))),
            };
            for (const s of stacks) {
                const st = await LocalWorkspace.selectStack({ stackName: s, projectName: "pulumi-linux-tuning", program: async () => fleetProgram() }, { workDir: project.dir, envVars: env });
                await st.destroy();
            }
            rows.push(`| ${size} | ${SHARDS} shards in parallel | ${f(sharded.preview)} | ${f(sharded.up)} | ${f(sharded.steady)} | ${f(sharded.refresh)} | |`);
            console.error(rows.slice(-2).join("\n"));
        } finally {
            labDown(lab);
        }
    }
    console.log("\n| hosts | layout | preview (first) s | up s | preview (steady) s | preview --refresh s | program CPU s (steady preview) |\n|---|---|---|---|---|---|---|");
    console.log(rows.join("\n"));
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
