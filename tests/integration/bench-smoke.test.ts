import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import { BenchResult, runBench } from "../../bench/ansible/harness";
import { markdown, summarize } from "../../bench/ansible/report";

// The Ansible bench's harness at its smallest (2 hosts, 1 round, ours and tuned Ansible): it must
// produce a well-formed result. Nothing about time is asserted.
describe("bench against Ansible: smoke", function () {
    this.timeout(10 * 60 * 1000);
    let result: BenchResult;

    before(async function () {
        execFileSync("bash", [path.resolve(__dirname, "../../bench/ansible/install.sh")], { stdio: ["ignore", "inherit", "inherit"] });
        result = await runBench({ sizes: [{ n: 2, rounds: 1 }], tools: () => ["ours", "ansible-tuned"], log: () => undefined });
    });

    it("measures every operation of both tools once", function () {
        const got = result.measurements.map((m) => `${m.tool} ${m.op}`).sort();
        assert.deepEqual(got, ["ansible-tuned apply", "ansible-tuned drift-check", "ours apply", "ours drift-check", "ours drift-report", "ours preview"]);
        assert.deepEqual(result.notMeasured, []);
    });

    it("every measurement reached both hosts and has every number", function () {
        for (const m of result.measurements) {
            const what = `${m.tool} ${m.op}`;
            assert.equal(m.n, 2, what);
            assert.equal(m.hostsReached, 2, `${what}: hosts reached`);
            assert.ok(m.sshConnectionsPerHost >= 1, `${what}: ssh connections per host ${m.sshConnectionsPerHost}`);
            for (const key of ["wallS", "controllerCpuS", "hostCpuS", "peakRssMB", "load1"] as const) {
                assert.ok(Number.isFinite(m[key]) && m[key] >= 0, `${what}: ${key} = ${m[key]}`);
            }
            // CPU was charged to the operation's processes and to the hosts' sshd sessions.
            assert.ok(m.controllerCpuS > 0 && m.hostCpuS > 0 && m.peakRssMB > 0, `${what}: ${JSON.stringify(m)}`);
        }
        const engineRuns = result.measurements.filter((m) => m.tool === "ours" && m.op !== "drift-report");
        assert.ok(engineRuns.every((m) => m.controllerSetupCpuS! > 0 && m.controllerSetupCpuS! < m.controllerCpuS));
        assert.ok(result.sshFloorMs[2] > 0, `ssh floor ${JSON.stringify(result.sshFloorMs)}`);
    });

    it("splits each operation's controller CPU by process: program, engine, providers; Ansible's Python and ssh", function () {
        const roles = (tool: string, op: string) => result.measurements.find((m) => m.tool === tool && m.op === op)!.controllerCpuByRole!;
        for (const op of ["apply", "drift-check", "preview"]) {
            const ours = roles("ours", op);
            assert.ok(ours.node > 0 && ours.engine > 0 && ours.provider > 0, `ours ${op}: ${JSON.stringify(ours)}`);
        }
        assert.ok(roles("ours", "drift-report").node > 0 && !roles("ours", "drift-report").engine, JSON.stringify(roles("ours", "drift-report")));
        assert.ok(roles("ansible-tuned", "apply").ansible > 0, JSON.stringify(roles("ansible-tuned", "apply")));
        for (const m of result.measurements) {
            const attributed = Object.entries(m.controllerCpuByRole!).reduce((sum, [role, s]) => sum + (role === "unattributed" ? 0 : s), 0);
            // Ticks are 10 ms: what a process is charged may round above the cgroup's exact count.
            assert.ok(attributed <= m.controllerCpuS + 0.05 * Object.keys(m.controllerCpuByRole!).length, `${m.tool} ${m.op}: ${attributed} attributed of ${m.controllerCpuS}`);
        }
    });

    it("summarizes into medians and a table per operation, with the machine", function () {
        const rows = summarize(result);
        assert.equal(rows.length, 6);
        for (const row of rows) assert.ok(row.wallS.min <= row.wallS.median && row.wallS.median <= row.wallS.max);
        const md = markdown(result, rows);
        assert.match(md, /cores \d+/);
        assert.equal((md.match(/^\| 2 \| (ours|ansible-tuned) \| \d+ \|/gm) ?? []).length, 6);
        assert.equal((md.match(/^\| 2 \| (ours|ansible-tuned) \| [a-z-]+ \| \d/gm) ?? []).length, 6, "one line per operation in the CPU-by-process table");
        assert.ok(typeof result.machine.ansible === "string" && /core 2\./.test(result.machine.ansible as string), String(result.machine.ansible));
    });
});
