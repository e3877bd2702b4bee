// How long applying and restoring 16 sysctls takes on 4 lab hosts, three ways:
//   provider  - SysctlSet's create + delete code path (pooled SSH, one read + one write each)
//   per-key   - a new `ssh host sysctl -w key=value` per key, as shell loops and per-key
//               config-management tasks do
//   engine    - `pulumi up` + `pulumi destroy` through the real engine
// Run: npm run bench (as root). Prints a table of medians.
import { execFile } from "child_process";
import { promisify } from "util";
import * as handlers from "../provider/sysctl/handlers";
import { SysctlSet } from "../provider";
import { SETTINGS } from "./settings";
import { labStack } from "../tests/integration/engine";
import { Lab, LabHost, connectionTo, labDown, labUp } from "../tests/integration/lab";
import { spread } from "./stats";

const run = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

async function timed(fn: () => Promise<void>): Promise<number> {
    const start = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - start) / 1e6;
}

async function provider(lab: Lab): Promise<void> {
    await Promise.all(
        lab.hosts.map(async (host) => {
            const props = { connection: { ...connectionTo(lab, host) }, settings: SETTINGS, resourceName: "bench" };
            const created = await handlers.create(props);
            await handlers.remove(created.id, created.outs as Record<string, unknown>);
        }),
    );
}

async function perKey(lab: Lab): Promise<void> {
    const ssh = (host: LabHost, command: string) =>
        run("ssh", ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${lab.knownHostsPath}`, "-i", lab.privateKeyPath, `root@${host.address}`, command]);
    await Promise.all(
        lab.hosts.map(async (host) => {
            const originals: string[] = [];
            for (const [key, value] of Object.entries(SETTINGS)) {
                originals.push((await ssh(host, `sysctl -n ${key}`)).stdout.trim());
                await ssh(host, `sysctl -w '${key}=${Array.isArray(value) ? value.join(" ") : value}'`);
            }
            let i = 0;
            for (const key of Object.keys(SETTINGS)) {
                await ssh(host, `sysctl -w '${key}=${originals[i++]}'`);
            }
        }),
    );
}

async function engine(lab: Lab): Promise<() => Promise<void>> {
    const stack = await labStack("bench", async () => {
        lab.hosts.forEach((host) => new SysctlSet(`bench-${host.name}`, { connection: connectionTo(lab, host), settings: SETTINGS }));
    });
    return async () => {
        await stack.up();
        await stack.destroy();
    };
}

async function main() {
    const lab = labUp(4);
    try {
        const engineRun = await engine(lab);
        const results: [string, number[]][] = [
            ["provider (create + delete)", []],
            ["per-key ssh (set + restore)", []],
            ["engine (pulumi up + destroy)", []],
        ];
        for (let round = 0; round < ROUNDS; round++) {
            results[0][1].push(await timed(() => provider(lab)));
            results[1][1].push(await timed(() => perKey(lab)));
            results[2][1].push(await timed(engineRun));
        }
        console.log(`\n${Object.keys(SETTINGS).length} sysctls on ${lab.hosts.length} lab hosts, median of ${ROUNDS} rounds:\n`);
        console.log("| way | median ms | min ms | max ms |\n|---|---|---|---|");
        for (const [name, xs] of results) {
            console.log(`| ${name} | ${spread(xs).median.toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`);
        }
    } finally {
        labDown(lab);
    }
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
