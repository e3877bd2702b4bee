// `npm run bench -- ansible` (root): ours against tuned and default Ansible on the same lab hosts
// and the same 16 sysctls; writes bench/results/ansible-<date>.json, .md and PNG charts.
//   BENCH_PLAN      hosts:rounds list, default "5:3,20:3,50:1,200:1"
//   BENCH_TOOLS     default "ours,ansible-tuned,ansible-default" (default Ansible only at 5 and 20)
//   BENCH_MINUTES   end within this many minutes: a round that would not fit is listed as not measured
//   BENCH_OUT       output directory, default bench/results
import { execFileSync } from "child_process";
import { mkdirSync, writeFileSync } from "fs";
import * as path from "path";
import { BenchResult, Tool, runBench } from "./ansible/harness";
import { markdown, summarize } from "./ansible/report";

async function main() {
    const sizes = (process.env.BENCH_PLAN ?? "5:3,20:3,50:1,200:1").split(",").map((s) => {
        const [n, rounds] = s.split(":").map(Number);
        return { n, rounds: rounds || 1 };
    });
    const wanted = (process.env.BENCH_TOOLS ?? "ours,ansible-tuned,ansible-default").split(",") as Tool[];
    const minutes = Number(process.env.BENCH_MINUTES ?? 0);
    const out = path.resolve(process.env.BENCH_OUT ?? path.join(__dirname, "results"));
    mkdirSync(out, { recursive: true });
    const base = path.join(out, `ansible-${new Date().toISOString().slice(0, 10)}`);
    const write = (result: BenchResult) => {
        const summary = summarize(result);
        writeFileSync(`${base}.json`, JSON.stringify({ ...result, summary }, null, 2) + "\n");
        writeFileSync(`${base}.md`, markdown(result, summary));
        execFileSync("node", [path.join(__dirname, "charts.mjs"), `${base}.json`], { stdio: "inherit" });
        return summary;
    };
    const result = await runBench({
        sizes,
        tools: (n) => wanted.filter((t) => t !== "ansible-default" || n <= 20),
        deadline: minutes ? Date.now() + minutes * 60_000 : undefined,
        progress: write,
    });
    console.log(markdown(result, write(result)));
    console.log(`written: ${base}.json, ${base}.md, ${base}-*.png`);
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
