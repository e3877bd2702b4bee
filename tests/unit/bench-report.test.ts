import { strict as assert } from "assert";
import { inTempDir } from "./temp-dir";
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { machineFiles, putBack } from "../../bench/effect";
import { spread } from "../../bench/stats";
import type { BenchResult, Measurement } from "../../bench/ansible/harness";
import { markdown, summarize } from "../../bench/ansible/report";
import { processRole } from "../../bench/ansible/roles";
import { usageFromCpuStat } from "../../bench/ansible/cgroup";

describe("bench: controller CPU by process", function () {
    it("names each process of a run by what it is there for", function () {
        const pulumi = "/root/.cache/pulumi-linux-tuning/pulumi-v3.274.1/bin/pulumi";
        assert.equal(processRole(["node", "/repo/node_modules/ts-node/dist/bin.js", "--transpile-only", "/repo/bench/ansible/ours-op.ts", "/tmp/op.json"]), "node");
        assert.equal(processRole(["node", "/repo/bin/components/fleet/cli.js", "drift", "--stack", "bench"]), "node");
        assert.equal(processRole([pulumi, "preview", "--refresh", "--client=127.0.0.1:1"]), "engine");
        assert.equal(processRole([pulumi, "stack", "history", "--json"]), "pulumi commands");
        assert.equal(processRole(["bash", `${pulumi}-resource-pulumi-nodejs`, "127.0.0.1:1"]), "provider", "the provider's launcher, before it execs node");
        assert.equal(processRole(["node", "/w/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js", "127.0.0.1:1"]), "provider");
        assert.equal(processRole(["/usr/bin/python3", "/usr/bin/ansible-playbook", "-i", "hosts.ini"]), "ansible");
        assert.equal(processRole(["ssh", "-o", "ControlPersist=60s", "root@10.0.0.1"]), "ssh");
        assert.equal(processRole(["sleep", "1"]), "other");
    });

    it("summarizes the split into medians and one table line per operation", function () {
        const run = (op: Measurement["op"], round: number, engine: number): Measurement => ({
            n: 5, tool: "ours", op, round, wallS: 1, controllerCpuS: 3, hostCpuS: 0.2, sshConnectionsPerHost: 1, peakRssMB: 200, hostsReached: 5, load1: 0.5,
            controllerCpuByRole: { node: 1, engine, provider: 0.5, unattributed: 1.5 - engine },
        });
        const result: BenchResult = { date: "d", machine: { cores: 2 }, sshFloorMs: { 5: 30 }, measurements: [run("preview", 0, 1), run("preview", 1, 1.2), run("preview", 2, 0.8), run("apply", 0, 1)], notMeasured: [] };
        const rows = summarize(result);
        assert.deepEqual(rows.find((r) => r.op === "preview")!.controllerCpuByRole!.engine, { median: 1, min: 0.8, max: 1.2 });
        const md = markdown(result, rows);
        assert.match(md, /\| hosts \| tool \| operation \| node \| engine \| provider \| unattributed \|/);
        assert.match(md, /^\| 5 \| ours \| preview \| 1\.00 \| 1\.00 \| 0\.50 \| 0\.50 \|$/m);
        assert.equal((md.match(/^\| 5 \| ours \| [a-z-]+ \| \d/gm) ?? []).length, 2);
    });
});

describe("the effect bench's own safety net", function () {
    it("writes the machine's files back as they were, a selection file as its selected word", function () {
        inTempDir("plt-putback-", (dir) => {
            const value = path.join(dir, "rmem_default");
            const selection = path.join(dir, "enabled");
            writeFileSync(value, "212992\n");
            writeFileSync(selection, "always [madvise] never\n");
            const original = machineFiles([value, selection, path.join(dir, "absent")]);
            writeFileSync(value, "31457280\n");
            writeFileSync(selection, "never");
            assert.deepEqual(putBack(original), []);
            assert.equal(readFileSync(value, "utf8"), "212992\n");
            assert.equal(readFileSync(selection, "utf8"), "madvise\n", "a selection file takes the word, as the kernel's does");
        });
    });
});

describe("bench statistics", function () {
    it("takes the mean of the middle two for an even count, the middle one for an odd count", function () {
        assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
        assert.deepEqual(spread([5, 1, 3]), { median: 3, min: 1, max: 5 });
    });
});

describe("bench: a cgroup's CPU on cgroup v2", function () {
    it("reads cpu.stat's usage_usec as ns, and refuses a file without it", function () {
        assert.equal(usageFromCpuStat("usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 0\n"), 1234567000);
        assert.throws(() => usageFromCpuStat("nr_periods 0\n"), /no usage_usec/);
    });
});
