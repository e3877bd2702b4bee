import { strict as assert } from "assert";
import { execFile, execFileSync } from "child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from "fs";
import * as path from "path";
import { promisify } from "util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { fleetProgram } from "../../components/fleet";
import type { DriftReport } from "../../components/fleet/drift";
import { labFleetConfig } from "../lab/stack-config";
import { labProject } from "./engine";
import { Lab, labDown, labUp, onHost, setSysctlOn, sysctlOn } from "./lab";

const CLI = path.resolve(__dirname, "../../bin/components/fleet/cli.js");
const KEY_PASSPHRASE = "fleet key passphrase for the lab";
/** TCP Fast Open's key, declared for rack b: a secret sysctl key keeps those hosts' parts secret in state. */
const FASTOPEN_KEY = "net.ipv4.tcp_fastopen_key";
const FASTOPEN_VALUE = "0123abcd-4567ef01-89abcdef-01234567";

/** The installed command, as a separate process: exit code, stdout, stderr. */
async function cli(project: { dir: string; env: NodeJS.ProcessEnv }, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
        const { stdout, stderr } = await promisify(execFile)("node", [CLI, ...args, "--cwd", project.dir], { env: project.env, maxBuffer: 64 << 20 });
        return { code: 0, stdout, stderr };
    } catch (e) {
        const err = e as { code: number; stdout: string; stderr: string };
        return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
}

describe("pulumi-linux-tuning shard / rollout / drift on 4 lab hosts in two racks", function () {
    this.timeout(15 * 60 * 1000);
    let lab: Lab;
    let project: { dir: string; env: NodeJS.ProcessEnv };
    const shards = ["fleet-a", "fleet-b"];
    const fastopenOriginals = new Map<string, string>();

    before(async function () {
        lab = labUp(4);
        project = labProject("fleet-cli");
        const config = labFleetConfig(lab);
        // Relative, as a project keeps it: the CLI runs from elsewhere with --cwd, and must read it from there as `pulumi up` would.
        mkdirSync(path.join(project.dir, "keys"));
        // Encrypted, as a fleet key should be: its passphrase is secret config that shard copies and every command uses.
        const keyFile = path.join(project.dir, "keys", "fleet");
        copyFileSync(lab.privateKeyPath, keyFile);
        chmodSync(keyFile, 0o600);
        execFileSync("ssh-keygen", ["-q", "-p", "-P", "", "-N", KEY_PASSPHRASE, "-f", keyFile]);
        assert.match(readFileSync(keyFile, "utf8"), /BEGIN OPENSSH PRIVATE KEY/);
        assert.throws(() => execFileSync("ssh-keygen", ["-y", "-P", "", "-f", keyFile], { stdio: "pipe" }), "the key file needs its passphrase now");
        config.defaults = { ...config.defaults, privateKeyPath: "keys/fleet" };
        config.hosts = config.hosts.map((h, i) => ({ ...h, labels: { ...h.labels, rack: i < 2 ? "a" : "b" } }));
        // Parts besides sysctls, so the drift report reads them too; the VMs have no cpufreq, so
        // their governor part is skipped, and its read says so (on stderr, not in the --json).
        config.assignments = [
            ...config.assignments,
            { select: { rack: "b" }, thp: { enabled: "never" }, governor: { governor: "performance", onUnsupported: "skip" }, sysctls: { [FASTOPEN_KEY]: FASTOPEN_VALUE } },
        ];
        for (const host of lab.hosts.slice(2)) {
            fastopenOriginals.set(host.name, sysctlOn(lab, host, FASTOPEN_KEY));
        }
        // A canary wave in rack a: rack b's shard, run beside it, does not wait for it.
        const { serial, ...rollout } = config.rollout!;
        config.rollout = { ...rollout, waves: [{ select: { name: "h1" } }] };
        const ws = await LocalWorkspace.create({ workDir: project.dir, envVars: project.env as Record<string, string> });
        await ws.createStack("fleet");
        await ws.setAllConfig("fleet", {
            ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`pulumi-linux-tuning:${k}`, { value: JSON.stringify(v) }])),
            "pulumi-linux-tuning:sshPrivateKeyPassword": { value: KEY_PASSPHRASE, secret: true },
        });
    });
    after(async function () {
        if (project) {
            for (const name of shards) {
                const stack = await LocalWorkspace.selectStack({ stackName: name, projectName: "pulumi-linux-tuning", program: async () => fleetProgram() }, { workDir: project.dir, envVars: project.env as Record<string, string> }).catch(() => undefined);
                await stack?.destroy();
            }
        }
        if (lab) {
            for (const host of lab.hosts) {
                assert.notEqual(sysctlOn(lab, host, "net.ipv4.tcp_fin_timeout"), "30", `${host.name} restored by destroy`);
                if (fastopenOriginals.has(host.name)) {
                    assert.equal(sysctlOn(lab, host, FASTOPEN_KEY), fastopenOriginals.get(host.name), `${host.name}'s Fast Open key restored by destroy`);
                }
            }
            labDown(lab);
        }
    });

    it("shards by rack, rolls the shards out in parallel, and merges their drift reports", async function () {
        const sharded = await cli(project, "shard", "--stack", "fleet", "--by", "rack");
        assert.equal(sharded.code, 0, sharded.stderr);
        assert.deepEqual(JSON.parse(sharded.stdout), { include: [{ stack: "fleet-a", hosts: 2 }, { stack: "fleet-b", hosts: 2 }] });
        assert.match(sharded.stderr, /note: no host of the fleet's first wave is in fleet-b: run side by side with the shard that has one, they do not wait for it/);
        const shardWorkspace = await LocalWorkspace.create({ workDir: project.dir, envVars: project.env as Record<string, string> });
        assert.deepEqual(JSON.parse((await shardWorkspace.getConfig("fleet-b", "pulumi-linux-tuning:rollout")).value).serial, [1, "100%"], "a canary of its own");
        for (const name of shards) {
            const file = readFileSync(path.join(project.dir, `Pulumi.${name}.yaml`), "utf8");
            assert.match(file, /pulumi-linux-tuning:sshPrivateKeyPassword:\s+secure: /, `${name} has the key's passphrase, encrypted`);
            assert.ok(!file.includes(KEY_PASSPHRASE), `${name}'s config holds no passphrase in plain text`);
        }

        const typo = await cli(project, "rollout", "--stack", "fleet-c");
        assert.equal(typo.code, 2);
        assert.match(typo.stderr, /no stack fleet-c, and no Pulumi\.fleet-c\.yaml/);
        const listed = await (await LocalWorkspace.create({ workDir: project.dir, envVars: project.env as Record<string, string> })).listStacks();
        assert.ok(!listed.some((s) => s.name === "fleet-c"), "a mistyped stack is not created");

        // As a CI matrix would: one process per shard, at the same time.
        const rollouts = await Promise.all(shards.map((s) => cli(project, "rollout", "--stack", s)));
        for (const r of rollouts) {
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /counters \(before → now\)/);
            // Evidence is on by default: every host's profile counters were measured, and none moved.
            assert.match(r.stdout, /│ h\d\s+│ [12]\s+│ applied\s+│ 0\s+│ \d+\s+│ quiet/);
        }
        // A refresh measures the counters again: the rise since each baseline appears in state.
        const risesSinceBaseline = async () => {
            const stack = await LocalWorkspace.selectStack({ stackName: shards[0], projectName: "pulumi-linux-tuning", program: async () => fleetProgram() }, { workDir: project.dir, envVars: project.env as Record<string, string> });
            const waves = (await stack.exportStack()).deployment.resources.filter((r: { type: string }) => r.type.endsWith("WaveEvidence"));
            return waves.flatMap((w: { outputs: { evidence: Record<string, { sinceBaseline: Record<string, number> }> } }) => Object.values(w.outputs.evidence).map((e) => Object.keys(e.sinceBaseline).length));
        };
        assert.deepEqual(await risesSinceBaseline(), [0, 0]);
        const refreshed = await cli(project, "rollout", "--stack", shards[0], "--refresh");
        assert.equal(refreshed.code, 0, refreshed.stdout + refreshed.stderr);
        assert.match(refreshed.stdout, /│ h1\s+│ 1\s+│ applied\s+│ 0\s+│ \d+\s+│ quiet/);
        assert.deepEqual(await risesSinceBaseline(), [2, 2], "each host's two connection-rate counters");
        for (const host of lab.hosts) {
            assert.equal(sysctlOn(lab, host, "net.ipv4.tcp_fin_timeout"), "30");
        }

        // An error is not a halted wave: exit 2, and no table, which would show the previous run's outputs.
        const workspace = await LocalWorkspace.create({ workDir: project.dir, envVars: project.env as Record<string, string> });
        const inventory = await workspace.getConfig(shards[0], "pulumi-linux-tuning:hosts");
        const broken = JSON.parse(inventory.value) as { connection: { host: string } }[];
        broken[1].connection.host = "h2; reboot";
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", { value: JSON.stringify(broken) });
        const errored = await cli(project, "rollout", "--stack", shards[0]);
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", inventory);
        assert.equal(errored.code, 2, errored.stdout + errored.stderr);
        assert.match(errored.stdout + errored.stderr, /hosts\[1\]\.connection\.host: must be a host name or an IP address/);
        assert.doesNotMatch(errored.stdout, /counters \(before → now\)/);

        // A halted wave is the rollout's verdict, not an error: exit 1, with this run's table; the next rollout resumes.
        const rolloutConfig = await workspace.getConfig(shards[0], "pulumi-linux-tuning:rollout").catch(() => undefined);
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:rollout", { value: JSON.stringify({ healthCheck: { create: "echo sick; exit 1", timeoutSeconds: 5 } }) });
        const restoreRolloutConfig = () =>
            rolloutConfig ? workspace.setConfig(shards[0], "pulumi-linux-tuning:rollout", rolloutConfig) : workspace.removeConfig(shards[0], "pulumi-linux-tuning:rollout");
        // h2 leaves the inventory in the same run: it is restored although the wave halts.
        const withoutH2 = (JSON.parse(inventory.value) as { name: string }[]).filter((h) => h.name !== "h2");
        assert.equal(withoutH2.length, 1);
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", { value: JSON.stringify(withoutH2) });
        const halted = await cli(project, "rollout", "--stack", shards[0]);
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", inventory);
        await restoreRolloutConfig();
        assert.equal(halted.code, 1, halted.stdout + halted.stderr);
        assert.match(halted.stdout, /│ h1\s+│ 1\s+│ failed/);
        assert.match(halted.stderr, /rollout halted: wave 1: halted: 0 of 1 hosts healthy/);
        assert.notEqual(sysctlOn(lab, lab.hosts[1], "net.ipv4.tcp_fin_timeout"), "30", "h2, taken out of the inventory, was restored");
        assert.equal(sysctlOn(lab, lab.hosts[0], "net.ipv4.tcp_fin_timeout"), "30", "h1, still declared, keeps its tuning");
        // A host failed within the budget: every wave passed and the rollout went on, and the exit says a host is not tuned.
        const unhealthy = "/etc/plt-unhealthy";
        onHost(lab, lab.hosts[1], ["sh", "-c", `echo 'app down' > ${unhealthy}`]);
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:rollout", {
            value: JSON.stringify({ serial: ["100%"], maxFailures: 1, healthCheck: { create: `if [ -e ${unhealthy} ]; then cat ${unhealthy}; exit 1; fi`, timeoutSeconds: 5 } }),
        });
        const withinBudget = await cli(project, "rollout", "--stack", shards[0]);
        onHost(lab, lab.hosts[1], ["rm", "-f", unhealthy]);
        await restoreRolloutConfig();
        assert.equal(withinBudget.code, 3, withinBudget.stdout + withinBudget.stderr);
        assert.match(withinBudget.stdout, /│ h1\s+│ 1\s+│ applied/);
        assert.match(withinBudget.stdout, /│ h2\s+│ 1\s+│ failed: health check exited with status 1: app down/);
        assert.match(withinBudget.stderr, /1 host\(s\) failed within the failure budget, and the rollout went on: h2/);
        const resumed = await cli(project, "rollout", "--stack", shards[0]);
        assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);

        // diagnose: every host of the stack; one it cannot reach is its own entry (exit 2), the others still diagnosed.
        const offline = JSON.parse(inventory.value) as { connection: { port?: number } }[];
        offline[1].connection.port = 1;
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", { value: JSON.stringify(offline) });
        const partial = await cli(project, "diagnose", "--stack", shards[0], "--window", "0.5", "--json");
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", inventory);
        assert.equal(partial.code, 2, partial.stdout + partial.stderr);
        const entries = JSON.parse(partial.stdout) as { target: string; error?: string; findings?: unknown[] }[];
        assert.deepEqual(entries.map((e) => [e.target, Array.isArray(e.findings), e.error !== undefined]), [["h1", true, false], ["h2", false, true]]);
        assert.match(entries[1].error!, /ECONNREFUSED|refused/);
        const bad = await cli(project, "diagnose", "--stack", shards[0], "--window", "abc");
        assert.deepEqual([bad.code, bad.stdout], [2, ""], "a bad window fails before any host is sampled");
        assert.match(bad.stderr, /window: NaN is not a number of seconds/);

        const clean = await Promise.all(shards.map((s) => cli(project, "drift", "--stack", s, "--json")));
        clean.forEach((r) => assert.equal(r.code, 0, r.stdout + r.stderr));
        const files = clean.map((r, i) => {
            const file = path.join(project.dir, `${shards[i]}.json`);
            require("fs").writeFileSync(file, r.stdout);
            return file;
        });
        const merged = await cli(project, "drift", "--merge", ...files);
        assert.equal(merged.code, 0, merged.stdout);
        assert.match(merged.stdout, /no drift across 4 host\(s\) in fleet-a, fleet-b/);
        // Not JSON: a truncated report, and a config value set as a string (`pulumi config set --secret rollout '{serial: [1]}'`): each named, the secret not shown.
        require("fs").writeFileSync(files[1], clean[1].stdout.slice(0, 20));
        const truncated = await cli(project, "drift", "--merge", ...files);
        assert.equal(truncated.code, 2, truncated.stdout + truncated.stderr);
        assert.match(truncated.stderr, new RegExp(`${files[1].replace(/[.]/g, "\\.")}: not JSON \\(.*\\); it should be a report of \`drift --stack S --json\``));
        require("fs").writeFileSync(files[1], clean[1].stdout);
        const rollout = await workspace.getConfig(shards[0], "pulumi-linux-tuning:rollout").catch(() => undefined);
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:rollout", { value: "{serial: [1]}", secret: true });
        const stringValue = await cli(project, "drift", "--stack", shards[0]);
        await (rollout ? workspace.setConfig(shards[0], "pulumi-linux-tuning:rollout", rollout) : workspace.removeConfig(shards[0], "pulumi-linux-tuning:rollout"));
        assert.equal(stringValue.code, 2, stringValue.stdout + stringValue.stderr);
        assert.match(stringValue.stderr, /pulumi-linux-tuning:rollout: not JSON; it should be a mapping or list in Pulumi\.<stack>\.yaml/);
        assert.doesNotMatch(stringValue.stderr, /serial/, "a secret set as a string is not quoted back");
        // What the rollout would refuse, drift refuses too, rather than reporting a clean fleet: a NIC counter for a host with no NIC named, or for another NIC.
        const hostsConfig = await workspace.getConfig(shards[0], "pulumi-linux-tuning:hosts");
        const noNic = (JSON.parse(hostsConfig.value) as { facts?: object }[]).map((h, i) => (i === 0 ? { ...h, facts: {} } : h));
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", { value: JSON.stringify(noNic) });
        const conditions = [{ counter: "link.IF.rx_dropped", maxPerSecond: 1, windowSeconds: 1 }, { counter: "link.eth9.rx_dropped", maxPerSecond: 1, windowSeconds: 1 }];
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:rollout", { value: JSON.stringify({ counterConditions: conditions }) });
        const refused = await cli(project, "drift", "--stack", shards[0]);
        await workspace.setConfig(shards[0], "pulumi-linux-tuning:hosts", hostsConfig);
        await (rollout ? workspace.setConfig(shards[0], "pulumi-linux-tuning:rollout", rollout) : workspace.removeConfig(shards[0], "pulumi-linux-tuning:rollout"));
        assert.equal(refused.code, 2, refused.stdout + refused.stderr);
        assert.match(refused.stderr, /h1: rollout\.counterConditions\[0\]\.counter names IF, and no facts\.interface/);
        assert.match(refused.stderr, /h2: rollout\.counterConditions\[1\]\.counter: link\.eth9\.rx_dropped names a NIC other than eth1, the one sampled/, "and a NIC the host's sampler does not read");

        const cleanB = JSON.parse(clean[1].stdout) as DriftReport;
        assert.deepEqual(
            cleanB.rows.filter((r) => r.key === "thp" || r.key === "governor").map((r) => [r.host, r.key, r.status]),
            [
                ["h3", "governor", "ok"],
                ["h3", "thp", "ok"],
                ["h4", "governor", "ok"],
                ["h4", "thp", "ok"],
            ],
        );
        assert.equal((clean[1].stderr.match(/: skipped: /g) ?? []).length, 2, clean[1].stderr);

        assert.equal(sysctlOn(lab, lab.hosts[3], FASTOPEN_KEY), FASTOPEN_VALUE);
        setSysctlOn(lab, lab.hosts[3], "net.ipv4.tcp_fin_timeout", "50");
        const changedKey = "89abcdef-89abcdef-89abcdef-89abcdef";
        setSysctlOn(lab, lab.hosts[3], FASTOPEN_KEY, changedKey);
        const thpFile = "/sys/kernel/mm/transparent_hugepage/enabled";
        onHost(lab, lab.hosts[3], ["sh", "-c", `echo always > ${thpFile}`]);
        const drifted = await cli(project, "drift", "--stack", "fleet-b", "--json");
        const driftedTable = await cli(project, "drift", "--stack", "fleet-b");
        onHost(lab, lab.hosts[3], ["sh", "-c", `echo never > ${thpFile}`]);
        setSysctlOn(lab, lab.hosts[3], FASTOPEN_KEY, FASTOPEN_VALUE);
        assert.equal(drifted.code, 1);
        for (const secret of [FASTOPEN_VALUE, changedKey, ...fastopenOriginals.values()]) {
            assert.ok(![drifted.stdout, drifted.stderr, driftedTable.stdout, driftedTable.stderr].join("\n").includes(secret), `${secret.slice(0, 8)}… never in the drift report`);
        }
        const report = JSON.parse(drifted.stdout) as DriftReport;
        assert.deepEqual(
            report.rows.filter((r) => r.key === FASTOPEN_KEY).map((r) => [r.host, r.desired, r.live, r.persisted, r.status]),
            [
                ["h3", "(secret, not shown)", "(secret, not shown)", "(secret, not shown)", "ok"],
                ["h4", "(secret, not shown)", "(secret, not shown)", "(secret, not shown)", "drifted"],
            ],
        );
        assert.deepEqual(
            report.rows.filter((r) => r.status !== "ok" && r.status !== "skipped" && r.key !== FASTOPEN_KEY).map((r) => [r.host, r.key, r.desired, r.live, r.persisted]),
            [
                ["h4", "net.ipv4.tcp_fin_timeout", "<= 30", "50", "30"],
                ["h4", `thp: ${thpFile}`, "never", "always", ""],
            ],
        );
        require("fs").writeFileSync(files[1], drifted.stdout);
        const table = await cli(project, "drift", "--merge", ...files);
        assert.equal(table.code, 1);
        assert.match(table.stdout, /│ h4\s+│ net\.ipv4\.tcp_fin_timeout\s+│ <= 30\s+│ 50\s+│ 30\s+│ drifted/);

        // A part declared and not yet rolled out is drift too, named as such.
        const workspaceB = await LocalWorkspace.create({ workDir: project.dir, envVars: project.env as Record<string, string> });
        const assignmentsB = await workspaceB.getConfig("fleet-b", "pulumi-linux-tuning:assignments");
        await workspaceB.setConfig("fleet-b", "pulumi-linux-tuning:assignments", {
            value: JSON.stringify([...JSON.parse(assignmentsB.value), { select: { name: "h3" }, wakeup: { cpus: "0", latencyUs: 20 } }]),
        });
        const pending = await cli(project, "drift", "--stack", "fleet-b", "--json");
        await workspaceB.setConfig("fleet-b", "pulumi-linux-tuning:assignments", assignmentsB);
        assert.equal(pending.code, 1, pending.stdout + pending.stderr);
        assert.deepEqual(
            (JSON.parse(pending.stdout) as DriftReport).rows.filter((r) => r.key === "wakeup").map((r) => [r.host, r.desired, r.live, r.status]),
            [["h3", "declared", "not applied", "drifted"]],
        );

        // A key the rollout set and the config no longer declares is drift until the next rollout restores it.
        const hostsBefore = await workspaceB.getConfig("fleet-b", "pulumi-linux-tuning:hosts");
        const dropping = (JSON.parse(hostsBefore.value) as { name: string; sysctlOverrides?: object }[]).map((h) => (h.name === "h3" ? { ...h, sysctlOverrides: { "net.ipv4.tcp_fin_timeout": null } } : h));
        await workspaceB.setConfig("fleet-b", "pulumi-linux-tuning:hosts", { value: JSON.stringify(dropping) });
        const dropped = await cli(project, "drift", "--stack", "fleet-b", "--json");
        await workspaceB.setConfig("fleet-b", "pulumi-linux-tuning:hosts", hostsBefore);
        assert.equal(dropped.code, 1, dropped.stdout + dropped.stderr);
        const droppedRows = (JSON.parse(dropped.stdout) as DriftReport).rows.filter((r) => r.host === "h3" && r.status === "drifted");
        assert.deepEqual(
            droppedRows.map((r) => [r.key, r.desired, r.live, r.persisted]),
            [
                ["net.ipv4.tcp_fin_timeout", "not declared: restore 60", "30", "30"],
                ["/etc/sysctl.d/90-pulumi-fleet-h3-sysctls.conf", "as the declared settings write it", "different", ""],
            ],
        );
        assert.match((await cli(project, "drift", "--stack", "fleet-b", "--jsn")).stderr, /unknown option '--jsn'/);
        assert.equal((await cli(project, "drift", "--stack", "fleet-b", "--jsn")).code, 2, "a usage error is an error (2), not drift (1)");

        // A host taken out of the config keeps its tuning until the next rollout: drift, named without a read.
        const hostsB = await workspaceB.getConfig("fleet-b", "pulumi-linux-tuning:hosts");
        await workspaceB.setConfig("fleet-b", "pulumi-linux-tuning:hosts", {
            value: JSON.stringify((JSON.parse(hostsB.value) as { name: string }[]).filter((h) => h.name !== "h4")),
        });
        const removed = await cli(project, "drift", "--stack", "fleet-b", "--json");
        await workspaceB.setConfig("fleet-b", "pulumi-linux-tuning:hosts", hostsB);
        assert.equal(removed.code, 1, removed.stdout + removed.stderr);
        const removedRows = (JSON.parse(removed.stdout) as DriftReport).rows;
        assert.deepEqual(
            removedRows.filter((r) => r.host === "h4").map((r) => [r.key, r.desired, r.status]),
            [["(host)", "not declared", "drifted"]],
        );
        assert.match(removedRows.find((r) => r.host === "h4")!.live, /^applied: sysctls, .*thp/);
        const stillDeclared = removedRows.filter((r) => r.host === "h3");
        assert.ok(stillDeclared.length > 0, "the host still declared is in the report");
        assert.ok(stillDeclared.every((r) => r.status === "ok" || r.status === "skipped"), `the host still declared reads clean: ${JSON.stringify(stillDeclared)}`);

        // Split again by another label: the rack shards are named as left behind, no other stack is,
        // and a stack that shard did not make is never written over.
        const ws = await LocalWorkspace.create({ workDir: project.dir, envVars: project.env as Record<string, string> });
        await ws.createStack("fleet-staging");
        await ws.createStack("fleet-vm");
        await ws.setConfig("fleet-vm", "pulumi-linux-tuning:hosts", { value: "[]" });
        const collided = await cli(project, "shard", "--stack", "fleet", "--by", "hardware");
        assert.equal(collided.code, 2, collided.stdout + collided.stderr);
        assert.match(collided.stderr, /fleet-vm: a stack of that name exists and `shard --stack fleet` did not make it; nothing was written/);
        assert.deepEqual(await ws.getAllConfig("fleet-vm"), { "pulumi-linux-tuning:hosts": { value: "[]", secret: false } });
        assert.ok(!(await ws.listStacks()).some((st) => st.name === "fleet-server"), "no shard written when one collides");
        await ws.removeStack("fleet-vm");
        await ws.setConfig("fleet", "pulumi-linux-tuning:evidence", { value: "false" });
        assert.equal((await cli(project, "shard", "--stack", "fleet", "--by", "hardware")).code, 0);
        assert.equal((await ws.getAllConfig("fleet-server"))["pulumi-linux-tuning:evidence"]?.value, "false");
        await ws.removeConfig("fleet", "pulumi-linux-tuning:evidence");
        const resplit = await cli(project, "shard", "--stack", "fleet", "--by", "hardware");
        assert.equal(resplit.code, 0, resplit.stderr);
        assert.equal((await ws.getAllConfig("fleet-server"))["pulumi-linux-tuning:evidence"], undefined, "a key removed from the fleet's stack is removed from its shards");
        const byHardware = (JSON.parse(resplit.stdout) as { include: { stack: string }[] }).include.map((i) => i.stack);
        assert.deepEqual(byHardware, ["fleet-server", "fleet-vm"]);
        assert.match(resplit.stderr, /no host belongs to shard stack fleet-a any more[\s\S]*fleet-b/);
        assert.doesNotMatch(resplit.stderr, /fleet-staging/);
        for (const name of [...byHardware, "fleet-staging"]) {
            await ws.removeStack(name);
        }
    });
});
