import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { CommanderError } from "commander";
import fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import { RunError } from "@pulumi/pulumi/errors";
import { AssignmentConflictError, assignHost, planHost } from "../../components/fleet/assign";
import { fleetConfigOf, interfaceToDiagnose, program as cliProgram } from "../../components/fleet/cli";
import { DriftRow, mergeReports, partRows, readFleetDrift, persistedValues, recordedHosts, report, rolloutRow, sysctlRows, undeclaredHostRows } from "../../components/fleet/drift";
import { FleetConfigError, FleetConfigInput, connectionFields, parseFleetConfig, readPrivateKey, refuseUnknownConfigKeys } from "../../components/fleet/inventory";
import { fleetProgram } from "../../components/fleet/program";
import { evidenceCell, hostEvidence, hostRecords } from "../../components/fleet/report";
import { checkFailures } from "../../provider/check";
import { counterEvidenceInputsSchema } from "../../provider/counters/schema";
import { keptBaseline } from "../../provider/host-tuning/handlers";
import { shardCanaryNote, shardConfig, shardsBy, staleShards } from "../../components/fleet/shards";
import { listedStack, sameStack, stackConfigFile } from "../../components/fleet/stack-names";
import { planWaves, serialSizes } from "../../components/fleet/waves";
import { renderPersistFile } from "../../provider/sysctl/plan";
import { parseReadOutput } from "../../provider/sysctl/remote";
import { sysctlSetInputsSchema } from "../../provider/sysctl/schema";
import { SettingValue } from "../../provider/sysctl/values";
import { allowedFailures, checkCommand, counterOnHost, describeCheckFailure, outputTail, ratesByCondition, redactSecrets, secretsOf, waveOutcome } from "../../provider/wave-gate/plan";
import { diff as gateDiff, heldStatus } from "../../provider/wave-gate/handlers";
import { healthCheckSchema, waveGateInputsSchema } from "../../provider/wave-gate/schema";
import * as verdict from "../../provider/wave-gate/verdict";
import { haltMessage } from "../../provider/wave-gate/verdict";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

function fleet(hosts: number, extra: Partial<FleetConfigInput> = {}): FleetConfigInput {
    return {
        defaults: { user: "root" },
        hosts: Array.from({ length: hosts }, (_, i) => ({ name: `h${i + 1}`, connection: { host: `10.0.0.${i + 1}`, hostKey: KEY }, labels: { rack: i % 2 ? "b" : "a" } })),
        assignments: [{ profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 } }],
        ...extra,
    };
}

describe("fleet: waves", function () {
    it("follows Ansible's serial: counts and percentages of the fleet, the last repeating", function () {
        assert.deepEqual(serialSizes([1, "25%", "100%"], 8), [1, 2, 5]);
        assert.deepEqual(serialSizes([1, "100%"], 1), [1]);
        assert.deepEqual(serialSizes([2], 5), [2, 2, 1]);
        assert.deepEqual(serialSizes(["10%"], 5), [1, 1, 1, 1, 1], "a percentage rounds down but never to 0");
        assert.deepEqual(serialSizes(["29%"], 100).slice(0, 1), [28], "ansible's float arithmetic: int(0.29 * 100) is 28");
        assert.deepEqual(serialSizes(["58%"], 50).slice(0, 1), [28]);
    });

    it("places every host exactly once, in inventory order, whatever the serial", function () {
        const step = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 100 }).map((p) => `${p}%`));
        fc.assert(
            fc.property(fc.array(step, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 60 }), (serial, total) => {
                const waves = planWaves(parseFleetConfig(fleet(total, { rollout: { serial } })));
                const order = waves.flatMap((w) => w.hosts.map((h) => h.name));
                assert.deepEqual(order, Array.from({ length: total }, (_, i) => `h${i + 1}`));
                assert.ok(waves.every((w) => w.hosts.length >= 1));
            }),
        );
    });

    it("explicit waves by label, with the unselected hosts as a last wave", function () {
        const waves = planWaves(parseFleetConfig(fleet(5, { rollout: { waves: [{ select: { name: "h3" } }, { select: { rack: "b" } }] } })));
        assert.deepEqual(
            waves.map((w) => w.hosts.map((h) => h.name)),
            [["h3"], ["h2", "h4"], ["h1", "h5"]],
        );
    });

    it("refuses a wave or an assignment whose selector matches no host, by its config path, before any host", function () {
        const typo = fleet(3, {
            hosts: fleet(3).hosts.map((h, i) => ({ ...h, labels: { ...h.labels, tier: i === 0 ? "canary" : "main" } })),
            assignments: [...fleet(3).assignments, { select: { rack: "a" }, sysctls: { "net.core.somaxconn": 4096 } }, { select: { role: "sip" }, profile: "sip-router" }],
            rollout: { waves: [{ select: { tier: "canry" } }, { select: { tier: "main" } }] },
        });
        assert.throws(() => parseFleetConfig(typo), (e: Error) => {
            assert.ok(e instanceof FleetConfigError);
            assert.equal(e.message, "invalid fleet config:\n  assignments[2].select: matches no host (labels in use: rack, tier)\n  rollout.waves[0].select: matches no host (labels in use: rack, tier)");
            return true;
        });
        assert.throws(() => parseFleetConfig(fleet(2, { hosts: fleet(2).hosts.map((h) => ({ ...h, labels: {} })), assignments: [{ select: { name: "h3" }, thp: { enabled: "never" } }] })), /assignments\[0\]\.select: matches no host \(no host has labels\)/);
        assert.doesNotThrow(() => parseFleetConfig(fleet(2, { assignments: [{ select: {}, thp: { enabled: "never" } }], rollout: { waves: [{ select: { rack: ["a", "z"] } }] } })), "an empty selector matches every host; a list, any value");
    });

    it("refuses a wave every host of which an earlier wave takes: a canary listed after its rack would go with the rack", function () {
        const canaryLast = fleet(4, { rollout: { waves: [{ select: { rack: "a" } }, { select: { name: "h1" }, maxFailures: 0 }] } });
        assert.throws(() => parseFleetConfig(canaryLast), /invalid fleet config:\n  rollout\.waves\[1\]\.select: matches only hosts an earlier wave takes: it would roll out nothing/);
        const overlapping = planWaves(parseFleetConfig(fleet(4, { rollout: { waves: [{ select: { name: "h1" } }, { select: { rack: "a" } }] } })));
        assert.deepEqual(overlapping.map((w) => w.hosts.map((h) => h.name)), [["h1"], ["h3"], ["h2", "h4"]], "a wave that still takes a host stands");
    });
});

describe("fleet: failure budget (Ansible's max_fail_percentage)", function () {
    it("a wave halts when the failed share exceeds the percentage, or when every host of it failed", function () {
        fc.assert(
            fc.property(fc.integer({ min: 1, max: 200 }), fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 10 ** 10 }).map((x) => x / 10 ** 8)), fc.nat(), (size, percent, f) => {
                const failed = f % (size + 1);
                // As ansible-core's linear strategy writes it: failed / batch_size > max_fail_percentage / 100.0.
                const ansibleHalts = failed / size > percent / 100;
                assert.equal(failed > allowedFailures(`${percent}%`, size), ansibleHalts, `${failed}/${size} at ${percent}%`);
                const verdicts = Array.from({ length: size }, (_, i) => ({ host: `h${i}`, status: i < failed ? "failed: x" : "applied", drifted: [] }));
                const halts = ansibleHalts || failed === size;
                assert.equal(waveOutcome(1, verdicts, `${percent}%`).passed, !halts, `${failed}/${size} at ${percent}%`);
            }),
        );
        const canary = [{ host: "h1", status: "failed: x", drifted: [] }];
        assert.equal(waveOutcome(1, canary, 1).passed, false, "a failed canary stops the rollout even under a budget of 1");
        assert.equal(allowedFailures("25%", 4), 1);
        assert.equal(allowedFailures("29%", 100), 29, "0.29 * 100 is 28.999… in floating point: 29 of 100 is not more than 29%");
        assert.equal(allowedFailures("33.3333333333%", 3), 0, "1 of 3 is more than 33.3333333333%");
        assert.equal(allowedFailures("7%", 100), 7, "7 / 100 * 100 is 7.000000000000001 in floating point; Ansible divides the percentage instead");
        assert.equal(allowedFailures("55%", 20), 11);
        assert.equal(allowedFailures(2, 4), 2);
    });

    it("summarises a wave and names the failed hosts when the rollout halts", function () {
        const results = [
            { host: "h1", status: "applied", drifted: [] },
            { host: "h2", status: "failed: health check exited with status 1: down", drifted: [] },
        ];
        assert.equal(waveOutcome(1, results, 1).summary, "wave 1: passed: 1 of 2 hosts healthy, 1 failed, budget 1");
        const halted = waveOutcome(1, results, 0);
        assert.equal(halted.passed, false);
        const message = haltMessage([
            { wave: 1, passed: false, outcome: halted.summary, results },
            { wave: 2, passed: false, outcome: "wave 2: not attempted", results: [{ host: "h3", status: "not attempted", drifted: [] }] },
        ]);
        assert.match(message!, /rollout halted: wave 1: halted.*\n  h2: failed: health check exited with status 1: down\n1 host\(s\) in later waves were not touched/);
        assert.equal(haltMessage([{ wave: 1, passed: true, outcome: "ok", results }]), undefined);
        const single = haltMessage([{ wave: 1, passed: false, outcome: halted.summary, results: results.slice(1) }], "web");
        assert.match(single!, /^health gate of web failed:\n  h2: failed: health check exited with status 1: down\nThe tuning stays applied/);
        assert.doesNotMatch(single!, /later waves/);
    });

    it("records a halt rather than failing the run under haltFailsRun: false, and judges a recorded halt again at the next run", async function () {
        const waves = [{ wave: 1, passed: false, outcome: "wave 1: halted: 0 of 1 hosts healthy, 1 failed, budget 0", results: [{ host: "h1", status: "failed: sick", drifted: [] }] }];
        await assert.rejects(verdict.create({ waves }), /rollout halted: wave 1/);
        const recorded = (await verdict.create({ waves, haltFailsRun: false })).outs;
        assert.equal(recorded.halted, true);
        assert.match(recorded.outcome, /^rollout halted: wave 1: halted.*\n  h1: failed: sick/);
        assert.deepEqual(await verdict.diff("rollout", recorded, { waves, haltFailsRun: false }), { changes: true }, "the same halt, judged again");
        assert.deepEqual(await verdict.diff("rollout", recorded, { waves }), { changes: true }, "a plain up after the command's run fails as it should");
        const passed = (await verdict.create({ waves: [{ ...waves[0], passed: true }], haltFailsRun: false })).outs;
        assert.deepEqual([passed.halted, passed.outcome], [false, "1 wave(s) passed"]);
        assert.deepEqual(await verdict.diff("rollout", passed, { waves: [{ ...waves[0], passed: true }], haltFailsRun: false }), { changes: false });
    });

    it("runs the user's check as one sh -c argument under timeout, its environment on stdin, and says why it failed", function () {
        const { argv, stdin } = checkCommand({ create: "curl -f localhost; true", timeoutSeconds: 10, environment: { A: "b c", TOKEN: "s3cr3t-t0ken" }, stdin: "line\n" });
        assert.deepEqual(argv.slice(0, 2), ["sh", "-c"]);
        assert.deepEqual(argv.slice(3), ["pulumi-health-check", "10", "2", "curl -f localhost; true"]);
        assert.ok(!argv.join(" ").includes("s3cr3t"), "no secret in an argument: ps and sudo's log show arguments");
        assert.equal(stdin, `A=${Buffer.from("b c").toString("base64")}\nTOKEN=${Buffer.from("s3cr3t-t0ken").toString("base64")}\nline\n`);
        const refused = (name: string) => healthCheckSchema.safeParse({ create: "true", environment: { [name]: "x" } }).error?.issues[0].message;
        assert.equal(refused("plt_count"), "plt_* names are the check wrapper's own");
        assert.equal(refused("UID"), "is set by the shell and cannot be passed");
        assert.equal(refused("count"), undefined, "any other name: the wrapper's own are plt_*");
        assert.equal(describeCheckFailure({ exitCode: 124, timedOut: true, output: "" }, 10), "health check timed out after 10 s");
        assert.equal(describeCheckFailure({ exitCode: 137, timedOut: false, output: "oom" }, 10), "health check exited with status 137: oom", "killed before its time: not a timeout");
        assert.equal(describeCheckFailure({ exitCode: 3, timedOut: false, output: "no" }, 10), "health check exited with status 3: no");
        assert.equal(outputTail("x".repeat(10), "", 4), "…xxxx");
    });

    it("gives the check its environment alone: a PATH or TMPDIR of its own does not break the wrapper, and values arrive as they are", function () {
        const environment = { PATH: "/opt/plt-app/bin", TMPDIR: "/nonexistent/plt-tmp", TOKEN: "s3cr3t $(id) 'q' \\n\n" };
        const { argv, stdin } = checkCommand({ create: `printf '%s|%s|%s|' "$PATH" "$TMPDIR" "$TOKEN"; read -r line; printf '%s' "$line"`, timeoutSeconds: 10, environment, stdin: "user stdin\n" });
        const run = spawnSync(argv[0], argv.slice(1), { input: stdin, encoding: "utf8" });
        assert.equal(run.stderr, "");
        assert.equal(run.status, 0);
        assert.equal(run.stdout, `/opt/plt-app/bin|/nonexistent/plt-tmp|s3cr3t $(id) 'q' \\n\n|user stdin`);
        const failing = checkCommand({ create: "exit 3", timeoutSeconds: 10, environment: { PATH: "/opt/plt-app/bin" } });
        assert.equal(spawnSync(failing.argv[0], failing.argv.slice(1), { input: failing.stdin }).status, 3, "the check's own status");
    });

    it("a held host's status says what an earlier run left on it", function () {
        assert.equal(heldStatus("not attempted"), "not attempted");
        assert.equal(heldStatus("applied"), "not attempted in this run (applied earlier)");
        assert.equal(heldStatus("failed: nic: eth1 rx: 8192 is above the maximum 4096"), "not attempted in this run (failed earlier: nic: eth1 rx: 8192 is above the maximum 4096)");
    });

    it("a held gate is judged again when its wave's hosts change, and only then", async function () {
        const held = (names: string[]) => ({ wave: 3, hosts: names.map((name) => ({ name, status: "not attempted", parts: {} })), maxFailures: 0, admitted: false });
        const olds = { ...held(["h5", "h6"]), passed: false, outcome: "wave 3: not attempted", failed: 0, allowed: 0, results: [] };
        assert.deepEqual(await gateDiff("wave-3", olds, held(["h5", "h6"])), { changes: false });
        assert.deepEqual(await gateDiff("wave-3", olds, held(["h5", "h9"])), { changes: true }, "h6 left the wave, h9 joined it");
    });

    it("keeps the check's environment values and stdin out of the output it records", function () {
        const secrets = secretsOf({ environment: { TOKEN: "s3cr3t-token", DEBUG: "1", SIP_PORT: "5060" }, stdin: "password-a\npassword-b\n" });
        assert.equal(redactSecrets("> Authorization: Bearer s3cr3t-token\n1 login password-a", secrets), "> Authorization: Bearer [secret]\n1 login [secret]");
        assert.equal(redactSecrets("read password-a\npassword-b\n", secrets), "read [secret]", "the whole stdin, then each of its lines");
        assert.equal(redactSecrets("DEBUG=1 5060 is reserved (5060-5061)", secrets), "DEBUG=1 5060 is reserved (5060-5061)", "values under 8 characters are left");
    });
});

describe("fleet: config and assignments", function () {
    it("names the config path of every problem, and the host a default applies to", function () {
        const bad = fleet(4);
        bad.hosts[3].connection.host = "h4; reboot";
        bad.defaults = { user: "Robert'); DROP" };
        assert.throws(() => parseFleetConfig(bad), (e: Error) => {
            assert.ok(e instanceof FleetConfigError && RunError.isInstance(e), "a declaration to fix: the SDK prints the message alone");
            assert.match(e.message, /hosts\[3\]\.connection\.host: must be a host name or an IP address/);
            assert.match(e.message, /defaults\.user: must be a valid user name \(for hosts\[0\], h1\)/);
            return true;
        });
        assert.throws(() => parseFleetConfig({ ...fleet(2), rollout: { maxFailures: "150%" } }), /rollout\.maxFailures/);
        assert.throws(() => parseFleetConfig({ ...fleet(2), rollout: { maxFailures: "100.5%" } }), /rollout\.maxFailures/);
        assert.deepEqual(["100.0%", "14.3%", "0%"].map((maxFailures) => parseFleetConfig({ ...fleet(2), rollout: { maxFailures } }).rollout?.maxFailures), ["100.0%", "14.3%", "0%"]);
        const busy = fleet(2);
        busy.hosts[1].facts = { busyPollMicros: 0 };
        assert.throws(() => parseFleetConfig(busy), /hosts\[1\]\.facts\.busyPollMicros: /, "0 would pass here and fail in the low-latency profile without a path");
        const level = (counter: string) => parseFleetConfig({ ...fleet(2), rollout: { counterConditions: [{ counter, maxPerSecond: 1, windowSeconds: 10 }] } });
        assert.throws(() => level("sockstat.TCP.inuse"), /rollout\.counterConditions\[0\]\.counter: is a level, not a counter/);
        assert.throws(() => level("Tcp.CurrEstab"), /is a level, not a counter/);
        assert.equal(level("Udp.RcvbufErrors").rollout.counterConditions?.[0].counter, "Udp.RcvbufErrors");
        assert.throws(() => parseFleetConfig({ ...fleet(2), hosts: [...fleet(2).hosts, fleet(1).hosts[0]] }), /hosts\[2\]\.name: h1 is also hosts\[0\]'s name/);
        const twice = fleet(3);
        twice.hosts[0].connection.port = "x" as never;
        twice.hosts[2].name = "h2";
        assert.throws(() => parseFleetConfig(twice), (e: Error) => {
            assert.match(e.message, /hosts\[0\]\.connection\.port: /);
            assert.match(e.message, /hosts\[2\]\.name: h2 is also hosts\[1\]'s name/, "checked across hosts though one host is malformed");
            return true;
        });
    });

    it("gives a bastion with no credential of its own the host's key and agent, or reads its own privateKeyPath", function () {
        const read = (file: string) => `key from ${file}`;
        const bastion = { host: "jump", user: "ops", hostKey: "ssh-ed25519 AAAA" };
        const shared = connectionFields({ privateKeyPath: "/k/fleet", proxy: bastion }, { host: "h1" }, {}, read);
        assert.deepEqual(shared, { host: "h1", privateKey: "key from /k/fleet", proxy: { ...bastion, privateKey: "key from /k/fleet" } });
        assert.deepEqual(connectionFields({}, { host: "h1", proxy: bastion }, { privateKey: "the fleet's sshPrivateKey" }, read).proxy, { ...bastion, privateKey: "the fleet's sshPrivateKey" });
        assert.deepEqual(connectionFields({ privateKeyPath: "/k/fleet" }, { host: "h1", proxy: { ...bastion, privateKeyPath: "/k/jump" } }, {}, read).proxy, { ...bastion, privateKey: "key from /k/jump" });
        assert.deepEqual(connectionFields({ privateKeyPath: "/k/fleet" }, { host: "h1", proxy: { ...bastion, agentSocketPath: "/run/agent" } }, {}, read).proxy, { ...bastion, agentSocketPath: "/run/agent" }, "its own credential, not the host's key");
        // The fleet's passphrase goes with every key it hands out, and not with an agent.
        const passphrase = { privateKey: "the fleet's key", privateKeyPassword: "its passphrase" };
        assert.deepEqual(connectionFields({ privateKeyPath: "/k/fleet" }, { host: "h1", proxy: { ...bastion, privateKeyPath: "/k/jump" } }, passphrase, read), {
            host: "h1",
            privateKey: "key from /k/fleet",
            privateKeyPassword: "its passphrase",
            proxy: { ...bastion, privateKey: "key from /k/jump", privateKeyPassword: "its passphrase" },
        });
        assert.deepEqual(connectionFields({ agentSocketPath: "/run/agent" }, { host: "h1" }, { privateKeyPassword: "its passphrase" }, read), { host: "h1", agentSocketPath: "/run/agent" });
        assert.deepEqual(
            connectionFields({ agentSocketPath: "/run/agent", proxy: bastion }, { host: "h1" }, {}, read).proxy,
            { ...bastion, agentSocketPath: "/run/agent" },
            "a fleet on an SSH agent alone offers the agent to the bastion too, as ssh -J does",
        );
        assert.deepEqual(connectionFields({}, { host: "h1" }, passphrase, read), { host: "h1", privateKey: "the fleet's key", privateKeyPassword: "its passphrase" });
        const where: string[] = [];
        const noting = (file: string, setting: string) => (where.push(setting), `key from ${file}`);
        connectionFields({ privateKeyPath: "/k/fleet", proxy: { ...bastion, privateKeyPath: "/k/jump" } }, { host: "h1" }, {}, noting);
        connectionFields({ privateKeyPath: "/k/fleet" }, { host: "h1", privateKeyPath: "/k/h1", proxy: { ...bastion, privateKeyPath: "/k/jump" } }, {}, noting);
        assert.deepEqual(where, ["defaults.privateKeyPath", "defaults.proxy.privateKeyPath", "connection.privateKeyPath", "connection.proxy.privateKeyPath"]);
        const unreadable = fleet(2);
        unreadable.hosts[1].connection.privateKeyPath = "/nonexistent/plt-key";
        const parsed = parseFleetConfig(unreadable);
        assert.throws(() => readPrivateKey("/nonexistent/plt-key", parsed, parsed.hosts[1], "connection.privateKeyPath"), (e: Error) => {
            assert.ok(e instanceof FleetConfigError);
            assert.match(e.message, /^invalid fleet config \(for h2\):\n  hosts\[1\]\.connection\.privateKeyPath: cannot read \/nonexistent\/plt-key: ENOENT$/);
            return true;
        });
        assert.throws(() => readPrivateKey("/nonexistent/plt-key", parsed, parsed.hosts[1], "defaults.privateKeyPath"), /invalid fleet config \(for h2\):\n  defaults\.privateKeyPath: cannot read/);
        const config = fleet(2);
        config.defaults = { proxy: { host: "jump", privateKeyPath: "/k/jump" } };
        assert.doesNotThrow(() => parseFleetConfig(config), "privateKeyPath is a bastion's field too");
        config.hosts[1].connection.proxy = { host: "jump", privateKeyPath: 7 };
        assert.throws(() => parseFleetConfig(config), /hosts\[1\]\.connection\.proxy/);
    });

    it("composes two assignments on a host as ComposedProfile does, and names both and the key when they conflict", function () {
        const config = parseFleetConfig(
            fleet(2, {
                assignments: [
                    { select: {}, profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 } },
                    { select: { rack: "b" }, sysctls: { "net.ipv4.tcp_fin_timeout": 45, "net.core.somaxconn": 2048 } },
                    { select: { rack: "a" }, sysctls: { "net.ipv4.tcp_keepalive_time": 600, "net.core.somaxconn": 8192, "net.ipv4.ip_local_port_range": [4096, 65535] } },
                ],
            }),
        );
        const h1 = assignHost(config, config.hosts[0]);
        assert.deepEqual(h1.from, ["assignments[0] (high-connection-rate)", "assignments[2]"]);
        assert.equal(h1.parts.sysctls?.settings["net.ipv4.tcp_keepalive_time"], 600);
        assert.equal(h1.parts.sysctls?.settings["net.core.somaxconn"], 8192, "8192 meets high-connection-rate's at least 4096");
        assert.deepEqual(h1.parts.sysctls?.settings["net.ipv4.ip_local_port_range"], [4096, 65535], "4096-65535 covers its 10240-65535");
        assert.throws(() => assignHost(config, config.hosts[1]), (e: Error) => {
            assert.ok(e instanceof AssignmentConflictError && RunError.isInstance(e));
            assert.match(e.message, /^h2: assignments conflict:\n/);
            assert.match(e.message, /  net\.core\.somaxconn: assignments\[0\] \(high-connection-rate\) sets \{"atLeast":4096\}, assignments\[1\] sets 2048/);
            assert.match(e.message, /net\.ipv4\.tcp_fin_timeout: assignments\[0\] \(high-connection-rate\) sets \{"atMost":30\}, assignments\[1\] sets 45/);
            return true;
        });
        const settled = parseFleetConfig({ ...config, hosts: [config.hosts[0], { ...config.hosts[1], sysctlOverrides: { "net.core.somaxconn": 2048, "net.ipv4.tcp_fin_timeout": 45 } }] });
        const three = parseFleetConfig(fleet(1, { assignments: [config.assignments[0], { sysctls: { "net.core.somaxconn": 8192 } }, { sysctls: { "net.core.somaxconn": 16384 } }] }));
        assert.throws(
            () => assignHost(three, three.hosts[0]),
            /  net\.core\.somaxconn: assignments\[0\] \(high-connection-rate\) with assignments\[1\] sets 8192, assignments\[2\] sets 16384/,
            "the value two assignments met at is named as both's",
        );
        assert.equal(assignHost(settled, settled.hosts[1]).parts.sysctls?.settings["net.ipv4.tcp_fin_timeout"], 45);
    });

    it("composes profiles that leave a field unset with what another assignment sets, and names only real conflicts", function () {
        const facts = { interface: "eth1", linkGbps: 25, rttMs: 20, memoryGiB: 64, applicationCpus: "2-5" };
        const onOneHost = (assignments: FleetConfigInput["assignments"]) => {
            const config = parseFleetConfig(fleet(1, { hosts: fleet(1).hosts.map((h) => ({ ...h, facts })), assignments }));
            return assignHost(config, config.hosts[0]);
        };
        const composed = onOneHost([{ profile: "low-latency" }, { nic: { rings: { rx: "max", tx: "max" } } }]);
        assert.deepEqual(composed.parts.nic?.rings, { rx: "max", tx: "max" }, "rings from the raw spec");
        assert.deepEqual(composed.parts.nic?.coalesce, { adaptiveRx: false, rxUsecs: 0 }, "coalescing from low-latency");
        const conflict = (assignments: FleetConfigInput["assignments"], expected: RegExp[]) =>
            assert.throws(() => onOneHost(assignments), (e: Error) => {
                expected.forEach((line) => assert.match(e.message, line));
                assert.equal(e.message.split("\n").filter((line) => line.startsWith("  ")).length, expected.length, e.message);
                assert.doesNotMatch(e.message, /undefined/);
                return true;
            });
        conflict([{ profile: "high-throughput" }, { profile: "low-latency" }], [/^  nic\.coalesce\.adaptiveRx: assignments\[0\] \(high-throughput\) sets true, assignments\[1\] \(low-latency\) sets false$/m]);
        conflict([{ profile: "low-latency" }, { profile: "sip-router" }], [/^  irqs placement: assignments\[0\] \(low-latency\) sets \{"numaLocal":true\}, assignments\[1\] \(sip-router\) sets \{"spread":"0-4095"\}$/m]);
    });

    it("requires the sysctl keys overrides add, from an assignment or the host, not the ones they change or drop", function () {
        const config = parseFleetConfig(
            fleet(1, {
                hosts: [{ name: "h1", connection: { host: "10.0.0.1", hostKey: KEY }, sysctlOverrides: { "net.ipv4.tcp_fin_timeot": 20, "net.core.somaxconn": 8192 } }],
                assignments: [
                    { profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 }, sysctlOverrides: { "net.core.somaxcon": 8192 } },
                    { sysctls: { "vm.swappiness": 10 }, sysctlOverrides: { "vm.dirty_ratio": 10 } },
                ],
            }),
        );
        const sysctls = assignHost(config, config.hosts[0]).parts.sysctls!;
        assert.deepEqual([...(sysctls.requiredKeys ?? [])].sort(), ["net.core.somaxcon", "net.ipv4.tcp_fin_timeot", "vm.dirty_ratio"]);
        const dropping = parseFleetConfig(
            fleet(1, {
                hosts: [{ name: "h1", connection: { host: "10.0.0.1", hostKey: KEY }, sysctlOverrides: { "net.core.somaxcon": null } }],
                assignments: [{ profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 }, sysctlOverrides: { "net.core.somaxcon": 8192 } }],
            }),
        );
        assert.equal(assignHost(dropping, dropping.hosts[0]).parts.sysctls!.requiredKeys, undefined, "dropped by the host: no longer declared, nor required");
        const withOwn = parseFleetConfig(
            fleet(1, { assignments: [{ profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 }, sysctlOverrides: { "net.core.somaxcon": 8192 }, sysctls: { "vm.swappiness": 10 } }] }),
        );
        assert.deepEqual(assignHost(withOwn, withOwn.hosts[0]).parts.sysctls!.requiredKeys, ["net.core.somaxcon"], "kept beside the assignment's own sysctls");
    });

    it("refuses an interface name the kernel would refuse (a ':' alias label) at its config path, and takes one with '@' through to the counters", function () {
        const withInterface = (name: string) => fleet(1, { hosts: fleet(1).hosts.map((h) => ({ ...h, facts: { interface: name, memoryGiB: 16 } })), assignments: [{ profile: "sip-router" }] });
        assert.throws(() => parseFleetConfig(withInterface("eth0:1")), /hosts\[0\]\.facts\.interface: must be a network interface name \(1-15 characters, no '\/', ':' or spaces/);
        const at = parseFleetConfig(withInterface("veth@1"));
        const { counters } = assignHost(at, at.hosts[0]);
        assert.ok(counters.includes("link.veth@1.rx_dropped"), counters.join(", "));
        assert.deepEqual(checkFailures(counterEvidenceInputsSchema, { interface: "veth@1", counters, resourceName: "e" }), []);
    });

    it("names the assignment a bad value came from, and a persist or missingKeys two assignments disagree on", function () {
        const blame = parseFleetConfig(fleet(1, { hosts: fleet(1).hosts.map((h) => ({ ...h, facts: { interface: "eth1" } })), assignments: [{ nic: { rings: { rx: 512 } } }, { nic: { coalesce: { rxUsecs: -1 } } }] }));
        assert.throws(() => assignHost(blame, blame.hosts[0]), (e: Error) => {
            assert.match(e.message, /assignments\[1\]\.nic\.coalesce\.rxUsecs: /);
            assert.doesNotMatch(e.message, /assignments\[0\]/);
            return true;
        });
        const persist = parseFleetConfig(
            fleet(1, {
                assignments: [
                    { sysctls: { "net.core.somaxconn": 4096 }, facts: { persist: true, missingKeys: "fail" } },
                    { sysctls: { "net.ipv4.tcp_fin_timeout": 30 }, facts: { persist: false, missingKeys: "skip" } },
                ],
            }),
        );
        assert.throws(() => assignHost(persist, persist.hosts[0]), (e: Error) => {
            assert.match(e.message, /^  facts\.persist: assignments\[0\] sets true, assignments\[1\] sets false \(for the sysctls both add\)$/m);
            assert.match(e.message, /^  facts\.missingKeys: assignments\[0\] sets "fail", assignments\[1\] sets "skip" \(for the sysctls both add\)$/m);
            return true;
        });
    });

    it("shares the interface one assignment sets with the host's other assignments, and persist and missingKeys with the sysctls they add to", function () {
        const onOneHost = (hostFacts: object, assignments: FleetConfigInput["assignments"]) => {
            const config = parseFleetConfig(fleet(1, { hosts: fleet(1).hosts.map((h) => ({ ...h, facts: hostFacts })), assignments }));
            return assignHost(config, config.hosts[0]);
        };
        const nicFromAnother = onOneHost({}, [{ profile: "low-latency" }, { sysctls: { "net.core.somaxconn": 4096 }, facts: { interface: "eth1" } }]);
        assert.equal(nicFromAnother.parts.nic?.interface, "eth1", "the profile's NIC part, on the interface the other assignment gave");
        assert.deepEqual(nicFromAnother.parts.nic?.coalesce, { adaptiveRx: false, rxUsecs: 0 });
        const oneSetsThem = onOneHost({}, [
            { sysctls: { "net.core.somaxconn": 4096 }, facts: { missingKeys: "fail", persist: false } },
            { sysctls: { "net.ipv4.tcp_fin_timeout": 30 } },
            { thp: { enabled: "never" } },
        ]);
        assert.deepEqual([oneSetsThem.parts.sysctls?.onMissing, oneSetsThem.parts.sysctls?.persist], ["fail", false], "sysctls one assignment adds to take its facts, not the defaults");
        assert.equal(oneSetsThem.parts.thp?.persist, true, "another assignment's own part keeps its own persist");
        const apart = onOneHost({}, [
            { sysctls: { "net.core.somaxconn": 4096 }, facts: { persist: false } },
            { thp: { enabled: "never" }, facts: { persist: true, missingKeys: "fail" } },
        ]);
        assert.deepEqual([apart.parts.sysctls?.persist, apart.parts.sysctls?.onMissing, apart.parts.thp?.persist], [false, "skip", true], "facts of parts that do not meet never conflict");
        const oneThp = onOneHost({}, [
            { thp: { enabled: "never" }, facts: { persist: false } },
            { thp: { enabled: "never" } },
        ]);
        assert.deepEqual([oneThp.parts.thp?.enabled, oneThp.parts.thp?.persist], ["never", false], "a part two assignments add to takes the persist one of them sets");
        assert.equal(onOneHost({}, [{ thp: { enabled: "never" } }]).parts.thp?.persist, true, "and persists when none does");
        for (const order of [0, 1]) {
            const withProfile: FleetConfigInput["assignments"] = [{ profile: "low-latency", facts: { interface: "eth1" } }, { nic: { coalesce: { adaptiveTx: false } }, facts: { persist: false } }];
            const composed = onOneHost({}, order ? withProfile.reverse() : withProfile);
            assert.deepEqual([composed.parts.nic?.persist, composed.parts.nic?.coalesce?.rxUsecs], [false, 0], "a profile that sets no persist has no opinion on the part it shares");
            assert.equal(composed.parts.irqs?.persist, true, "and its own parts persist");
        }
        const settled = onOneHost({ missingKeys: "skip", interface: "ens5" }, [
            { sysctls: { "net.core.somaxconn": 4096 }, facts: { missingKeys: "fail", interface: "eth1" } },
            { sysctls: { "net.ipv4.tcp_fin_timeout": 30 }, facts: { missingKeys: "skip", interface: "eth2" } },
        ]);
        assert.deepEqual([settled.parts.sysctls?.onMissing, settled.interface], ["skip", "ens5"], "the host's own settle what its assignments disagree on");
    });

    it("applies sysctlOverrides without a profile too, checked like any value", function () {
        const raw = parseFleetConfig(fleet(1, { assignments: [{ sysctls: { "net.ipv4.tcp_fin_timeout": 30 }, sysctlOverrides: { "net.core.somaxconn": 4096, "net.ipv4.tcp_fin_timeout": null } }] }));
        assert.deepEqual(assignHost(raw, raw.hosts[0]).parts.sysctls?.settings, { "net.core.somaxconn": 4096 });
        const nicOnly = fleet(1, { assignments: [{ nic: { rings: { rx: 512 } } }] });
        nicOnly.hosts = nicOnly.hosts.map((h) => ({ ...h, facts: { interface: "eth1" }, sysctlOverrides: { "net.core.somaxconn": "banana" } }));
        const config = parseFleetConfig(nicOnly);
        assert.throws(() => assignHost(config, config.hosts[0]), /hosts\[0\]\.sysctlOverrides\["net\.core\.somaxconn"\]: /);
    });

    it("refuses a null override that drops nothing (a typo), by its config path, at every level", function () {
        const typo = (extra: Partial<FleetConfigInput>) => {
            const config = parseFleetConfig(fleet(1, extra));
            return () => assignHost(config, config.hosts[0]);
        };
        assert.throws(typo({ assignments: [{ select: {}, profile: "low-latency", sysctlOverrides: { "vm.swapiness": null } }] }), /assignments\[0\]\.sysctlOverrides\["vm\.swapiness"\]: null drops nothing: the low-latency profile does not set vm\.swapiness/);
        assert.throws(typo({ assignments: [{ select: {}, sysctls: { "net.ipv4.tcp_fin_timeout": 30 }, sysctlOverrides: { "net.ipv4.tcp_fin_timeot": null } }] }), /assignments\[0\]\.sysctlOverrides\["net\.ipv4\.tcp_fin_timeot"\]: null drops nothing: the assignment's sysctls do not set/);
        const onHost = fleet(1, { assignments: [{ select: {}, sysctls: { "net.ipv4.tcp_fin_timeout": 30 } }] });
        onHost.hosts[0].sysctlOverrides = { "net.ipv4.tcp_fin_timeout": null, "net.core.somaxcon": null };
        assert.throws(typo(onHost), (e: Error) => /hosts\[0\]\.sysctlOverrides\["net\.core\.somaxcon"\]: null drops nothing: no assignment of this host sets/.test(e.message) && !/tcp_fin_timeout/.test(e.message));
    });

    it("drops the profile's congestion-control module when the host's overrides or the assignment's sysctls set another, as the profile's own overrides do", function () {
        const modulesOf = (assignment: Partial<FleetConfigInput["assignments"][number]>, hostOverrides?: Record<string, string | null>) => {
            const config = parseFleetConfig(fleet(1, { assignments: [{ select: {}, profile: "high-throughput", facts: { linkGbps: 100, rttMs: 50 }, ...assignment }] }));
            const host = hostOverrides ? { ...config.hosts[0], sysctlOverrides: hostOverrides } : config.hosts[0];
            return assignHost(config, host).parts.modules?.modules;
        };
        assert.deepEqual(modulesOf({}), ["tcp_bbr"]);
        assert.equal(modulesOf({}, { "net.ipv4.tcp_congestion_control": "cubic" }), undefined, "the host's override");
        assert.equal(modulesOf({}, { "net/ipv4/tcp_congestion_control": null }), undefined, "dropped by the host, in the other spelling");
        assert.equal(modulesOf({ sysctls: { "net.ipv4.tcp_congestion_control": "cubic" } }), undefined, "the assignment's sysctls");
        assert.deepEqual(modulesOf({ sysctls: { "net.ipv4.tcp_congestion_control": "cubic" } }, { "net.ipv4.tcp_congestion_control": "bbr" }), ["tcp_bbr"], "the host's wins");
    });

    it("watches the counters of every profile a host is assigned, on its interface; raw specs watch none", function () {
        const config = parseFleetConfig(
            fleet(2, {
                hosts: fleet(2).hosts.map((h, i) => ({ ...h, facts: i === 0 ? { interface: "ens1" } : {} })),
                assignments: [
                    { select: {}, profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 } },
                    { select: { rack: "a" }, profile: "high-throughput", facts: { linkGbps: 10, rttMs: 1 } },
                    { select: { rack: "b" }, sysctls: { "net.ipv4.tcp_keepalive_time": 600 } },
                ],
            }),
        );
        const [h1, h2] = config.hosts.map((h) => assignHost(config, h).counters);
        assert.deepEqual(h1, ["TcpExt.ListenOverflows", "TcpExt.ListenDrops", "Tcp.RetransSegs", "softnet.dropped", "link.ens1.rx_dropped", "link.ens1.rx_missed_errors"]);
        assert.deepEqual(h2, ["TcpExt.ListenOverflows", "TcpExt.ListenDrops"]);
        assert.deepEqual(assignHost(parseFleetConfig(fleet(1, { assignments: [{ sysctls: { "net.core.somaxconn": 4096 } }] })), parseFleetConfig(fleet(1)).hosts[0]).counters, []);
        assert.deepEqual(parseFleetConfig(fleet(1)).evidence, {}, "on by default, with the resource's own window");
        assert.throws(() => parseFleetConfig(fleet(1, { evidence: { windowSeconds: 0 } })), /evidence\.windowSeconds/);
    });

    it("takes the NIC the gates and evidence sample from the host's facts or its assignments', refusing two different ones", function () {
        const onNic = (hostFacts: object, assignments: FleetConfigInput["assignments"]) => {
            const config = parseFleetConfig(fleet(1, { hosts: fleet(1).hosts.map((h) => ({ ...h, facts: hostFacts })), assignments }));
            return assignHost(config, config.hosts[0]);
        };
        const edge = { profile: "high-throughput" as const, facts: { interface: "eth1", linkGbps: 25, rttMs: 1 } };
        assert.equal(onNic({}, [edge]).interface, "eth1", "the assignment's fact");
        assert.equal(onNic({ interface: "ens5" }, [edge]).interface, "ens5", "the host's own wins");
        assert.equal(onNic({}, [{ sysctls: { "net.core.somaxconn": 4096 } }]).interface, undefined);
        assert.throws(() => onNic({}, [edge, { nic: { rings: { rx: 512 } }, facts: { interface: "eth2" } }]), (e: Error) => {
            assert.match(e.message, /^  facts\.interface: assignments\[0\] \(high-throughput\) sets "eth1", assignments\[1\] sets "eth2"$/m);
            assert.match(e.message, /Set it in the host's own facts/);
            return true;
        });
    });

    it("matches a sysctl override to the key in either spelling, and drops the sysctls part when overrides drop every key", function () {
        const config = parseFleetConfig(
            fleet(1, {
                hosts: fleet(1).hosts.map((h) => ({ ...h, sysctlOverrides: { "net/core/somaxconn": null } })),
                assignments: [
                    { sysctls: { "net.core.somaxconn": 1024, "net.core.rmem_max": 5 } },
                    { sysctls: { "net/core/somaxconn": 2048 }, sysctlOverrides: { "net/core/rmem_max": 5 } },
                ],
            }),
        );
        assert.deepEqual(assignHost(config, config.hosts[0]).parts.sysctls?.settings, { "net.core.rmem_max": 5 }, "the host's override settles the clash and drops the key");
        const profiled = parseFleetConfig(fleet(1, { assignments: [{ profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 }, sysctlOverrides: { "net/core/somaxconn": 1024 } }] }));
        const settings = assignHost(profiled, profiled.hosts[0]).parts.sysctls!.settings;
        assert.equal(settings["net/core/somaxconn"], 1024);
        assert.ok(!("net.core.somaxconn" in settings), "the profile's own spelling is replaced");
        const dropped = parseFleetConfig({ ...fleet(1, { assignments: [{ sysctls: { "net.core.somaxconn": 5 } }] }), hosts: fleet(1).hosts.map((h) => ({ ...h, sysctlOverrides: { "net.core.somaxconn": null } })) });
        assert.equal(assignHost(dropped, dropped.hosts[0]).parts.sysctls, undefined);
        assert.throws(() => parseFleetConfig(fleet(1, { assignments: [{ sysctls: {} }] })), /assignments\[0\]\.sysctls: must name at least one sysctl/);
    });

    it("an assignment's own sysctl wins over its profile's in either spelling, and a record naming one setting twice is refused", function () {
        const lowLatency = { profile: "low-latency" as const, facts: { interface: "eth1" } };
        for (const key of ["net.core.busy_poll", "net/core/busy_poll"]) {
            const config = parseFleetConfig(fleet(1, { assignments: [{ ...lowLatency, sysctls: { [key]: 10 } }] }));
            const settings = assignHost(config, config.hosts[0]).parts.sysctls!.settings;
            assert.deepEqual(
                Object.entries(settings).filter(([held]) => held.endsWith("busy_poll")),
                [[key, 10]],
                `${key}: the assignment's value, once`,
            );
        }
        const twice = { "net.core.somaxconn": 4096, "net/core/somaxconn": 1 };
        assert.throws(() => parseFleetConfig(fleet(1, { assignments: [{ sysctls: twice }] })), /assignments\[0\]\.sysctls\["net\/core\/somaxconn"\]: is the same setting as net\.core\.somaxconn/);
        assert.throws(() => parseFleetConfig(fleet(1, { assignments: [{ ...lowLatency, sysctlOverrides: twice }] })), /assignments\[0\]\.sysctlOverrides\["net\/core\/somaxconn"\]: is the same/);
        assert.throws(() => parseFleetConfig({ ...fleet(1), hosts: fleet(1).hosts.map((h) => ({ ...h, sysctlOverrides: twice })) }), /hosts\[0\]\.sysctlOverrides\["net\/core\/somaxconn"\]: is the same/);
    });

    it("refuses a key of the config namespace that nothing reads, naming the closest known key, in the program and the CLI", function () {
        const known = ["defaults", "hosts", "assignments", "rollout", "evidence", "sshPrivateKey", "sshPrivateKeyPassword", "shardOf"].map((k) => `pulumi-linux-tuning:${k}`);
        assert.doesNotThrow(() => refuseUnknownConfigKeys([...known, "aws:region", "other:rolout"]), "every key the fleet reads; other namespaces are not ours");
        assert.throws(() => refuseUnknownConfigKeys([...known, "pulumi-linux-tuning:rolout", "pulumi-linux-tuning:default"]), (e: Error) => {
            assert.ok(e instanceof FleetConfigError && RunError.isInstance(e));
            assert.equal(
                e.message,
                "invalid fleet config:\n  pulumi-linux-tuning:rolout: not a key of the fleet's config; did you mean pulumi-linux-tuning:rollout?\n  pulumi-linux-tuning:default: not a key of the fleet's config; did you mean pulumi-linux-tuning:defaults?",
            );
            return true;
        });
        const stack = { "pulumi-linux-tuning:hosts": { value: "[]", secret: false }, "pulumi-linux-tuning:sshPrivateKeys": { value: "k", secret: true } };
        assert.throws(() => fleetConfigOf(stack), /pulumi-linux-tuning:sshPrivateKeys: .*did you mean pulumi-linux-tuning:sshPrivateKey\?/);
        const saved = pulumi.runtime.allConfig();
        pulumi.runtime.setAllConfig({ ...saved, "pulumi-linux-tuning:rolout": JSON.stringify({ maxFailures: 1 }) });
        try {
            assert.throws(() => fleetProgram(), /invalid fleet config:\n  pulumi-linux-tuning:rolout: .*did you mean pulumi-linux-tuning:rollout\?$/, "before it declares anything");
        } finally {
            pulumi.runtime.setAllConfig(saved);
        }
    });

    it("names a fleet key whose config is not JSON, without quoting it: it may be a secret", function () {
        const saved = pulumi.runtime.allConfig();
        pulumi.runtime.setAllConfig({ ...saved, "pulumi-linux-tuning:hosts": "s3cr3t-token-set-as-a-string" }, ["pulumi-linux-tuning:hosts"]);
        try {
            assert.throws(() => fleetProgram(), (e: Error) => {
                assert.ok(e instanceof FleetConfigError);
                assert.equal(e.message, "invalid fleet config:\n  pulumi-linux-tuning:hosts: not JSON; it should be a mapping or list in Pulumi.<stack>.yaml, as the README shows");
                return true;
            });
        } finally {
            pulumi.runtime.setAllConfig(saved);
        }
    });

    it("tells a shard stack whose config the fleet has outgrown to shard again", function () {
        const saved = pulumi.runtime.allConfig();
        const stale = fleet(2, { rollout: { waves: [{ select: { rack: "c" } }] } });
        const config = Object.fromEntries(Object.entries(stale).map(([key, value]) => [`pulumi-linux-tuning:${key}`, JSON.stringify(value)]));
        pulumi.runtime.setAllConfig({ ...saved, ...config, "pulumi-linux-tuning:shardOf": "fleet" });
        try {
            assert.throws(() => fleetProgram(), /rollout\.waves\[0\]\.select: matches no host .*\nThis stack is a shard of fleet: `pulumi-linux-tuning shard --stack fleet --by LABEL` writes its config again/s);
            // A problem found per host, and a key the fleet no longer reads, say so too.
            const unassigned = fleet(2, { assignments: [{ select: { rack: "a" }, sysctls: { "net.core.somaxconn": 4096 } }] });
            pulumi.runtime.setAllConfig({ ...saved, ...Object.fromEntries(Object.entries(unassigned).map(([key, value]) => [`pulumi-linux-tuning:${key}`, JSON.stringify(value)])), "pulumi-linux-tuning:shardOf": "fleet" });
            assert.throws(() => fleetProgram(), /h2: no assignment selects this host .*\nThis stack is a shard of fleet: /s);
            pulumi.runtime.setAllConfig({ ...saved, ...config, "pulumi-linux-tuning:shardOf": "fleet", "pulumi-linux-tuning:shardsOf": "x" });
            assert.throws(() => fleetProgram(), /pulumi-linux-tuning:shardsOf: not a key of the fleet's config; did you mean pulumi-linux-tuning:shardOf\?\nThis stack is a shard of fleet: /);
        } finally {
            pulumi.runtime.setAllConfig(saved);
        }
    });

    it("refuses a label called name: selectors match the host's own name there", function () {
        const named = fleet(1);
        named.hosts[0].labels = { name: "primary" };
        assert.throws(() => parseFleetConfig(named), /hosts\[0\]\.labels\.name: is the host's own name to a selector/);
    });

    it("puts the host's NIC for IF in a counter condition, and says when it has none", function () {
        assert.equal(counterOnHost("link.IF.rx_dropped", "ens5"), "link.ens5.rx_dropped");
        assert.equal(counterOnHost("irq.IF.cpu2", "eth0.100"), "irq.eth0.100.cpu2");
        const conditions = [
            { counter: "Udp.RcvbufErrors", maxPerSecond: 50, windowSeconds: 10 },
            { counter: "Udp.RcvbufErrors", maxPerSecond: 10, windowSeconds: 60 },
            { counter: "TcpExt.ListenDrops", maxPerSecond: 0, windowSeconds: 60 },
        ];
        assert.deepEqual(ratesByCondition(conditions, (c) => c.windowSeconds / 10), { "Udp.RcvbufErrors over 10 s": 1, "Udp.RcvbufErrors over 60 s": 6, "TcpExt.ListenDrops": 6 }, "each window's own rate");
        assert.equal(counterOnHost("Udp.RcvbufErrors", undefined), "Udp.RcvbufErrors");
        assert.equal(counterOnHost("link.IF.rx_dropped", undefined), undefined);
        assert.equal(counterOnHost("link.IFB0.rx_dropped", undefined), "link.IFB0.rx_dropped", "only a whole IF");
    });

    it("records a host's evidence only once its baseline was taken", function () {
        const gate = { wave: 1, passed: true, outcome: "", failed: 0, allowed: 0, results: [{ host: "h1", status: "applied", drifted: [] }, { host: "h2", status: "not attempted", drifted: [] }] };
        const records = hostRecords([gate], {}, { h1: { before: { "Udp.RcvbufErrors": 12.5 }, now: { "Udp.RcvbufErrors": 0 } }, h2: { before: {}, now: {} } });
        assert.deepEqual(records.h1.evidence, { before: { "Udp.RcvbufErrors": 12.5 }, now: { "Udp.RcvbufErrors": 0 } });
        assert.equal(records.h2.evidence, undefined, "a held host was never measured");
    });

    it("keeps why a host's evidence is stale or was never taken, and says so in the rollout table", function () {
        const measured = { before: { "Udp.RcvbufErrors": 12.5 }, now: { "Udp.RcvbufErrors": 0 }, sinceBaseline: {}, missing: [] };
        const stale = hostEvidence({ ...measured, lastMeasureFailed: "connect ECONNREFUSED 10.0.0.1:22" });
        const unmeasured = hostEvidence({ before: {}, now: {}, sinceBaseline: {}, missing: [], unmeasured: "connect ETIMEDOUT 10.0.0.2:22" });
        assert.deepEqual(hostEvidence(measured), { before: measured.before, now: measured.now });
        const gate = { wave: 1, passed: false, outcome: "", failed: 1, allowed: 0, results: [{ host: "h1", status: "applied", drifted: [] }, { host: "h2", status: "failed: unreachable", drifted: [] }] };
        const records = hostRecords([gate], {}, { h1: stale, h2: unmeasured });
        assert.equal(records.h1.evidence?.lastMeasureFailed, "connect ECONNREFUSED 10.0.0.1:22");
        assert.equal(records.h2.evidence?.unmeasured, "connect ETIMEDOUT 10.0.0.2:22", "a host whose baseline could not be taken says why");
        assert.equal(evidenceCell(stale), "Udp.RcvbufErrors 12.5/s → 0/s\nstale: connect ECONNREFUSED 10.0.0.1:22");
        assert.equal(evidenceCell(unmeasured), "unmeasured: connect ETIMEDOUT 10.0.0.2:22");
    });

    it("takes `before` from the baseline the host's tuning kept at its first apply, and `now` from its wave's latest measurement", function () {
        const remeasured = { before: { "TcpExt.ListenOverflows": 0 }, now: { "TcpExt.ListenOverflows": 0 }, sinceBaseline: {}, missing: [] };
        const kept = { before: { "TcpExt.ListenOverflows": 271.1 } };
        assert.deepEqual(hostEvidence(remeasured, kept), { before: kept.before, now: remeasured.now }, "moved to another wave, measured there again");
        assert.deepEqual(hostEvidence(remeasured, { before: {}, unmeasured: "no counters were measured before this host was first tuned" }).unmeasured, "no counters were measured before this host was first tuned");
        assert.deepEqual(hostEvidence(remeasured, undefined), { before: remeasured.before, now: remeasured.now }, "state from before kept baselines");
        assert.deepEqual(hostEvidence(remeasured, null), { before: remeasured.before, now: remeasured.now }, "held: its wave's (empty) record");

        const measured = { before: { "TcpExt.ListenOverflows": 271.1 } };
        assert.equal(keptBaseline({ baseline: null }, measured), measured, "held until now: taken at this first apply");
        assert.equal(keptBaseline(undefined, measured), measured);
        assert.deepEqual(keptBaseline({ baseline: kept }, { before: { "TcpExt.ListenOverflows": 0 } }), kept, "never replaced");
        assert.equal(keptBaseline({}, measured), undefined, "state from before: the wave's evidence stands in");
        assert.match(keptBaseline(undefined, undefined)?.unmeasured ?? "", /no counters were measured before this host was first tuned/, "a later measurement would be of the tuned host");
    });

    it("shows in the rollout table the counters that moved, before tuning and now, and says so when none did", function () {
        const evidence = { before: { "Udp.RcvbufErrors": 12.54, "Udp.InErrors": 0, "softnet.dropped": null }, now: { "Udp.RcvbufErrors": 0, "Udp.InErrors": 0, "softnet.dropped": 3 } };
        assert.equal(evidenceCell(evidence), "Udp.RcvbufErrors 12.5/s → 0/s\nsoftnet.dropped n/a → 3/s");
        assert.equal(evidenceCell({ before: { "Udp.InErrors": 0 }, now: { "Udp.InErrors": 0 } }), "quiet");
        const unrated = { before: { "Udp.InErrors": 0, "irq.eth0.cpu2": null }, now: { "Udp.InErrors": 0, "irq.eth0.cpu2": null } };
        assert.equal(evidenceCell(unrated), "irq.eth0.cpu2 n/a → n/a", "a counter never rated is no all-clear");
        assert.equal(evidenceCell(undefined), "", "not measured");
    });

    it("composes other parts field by field, and names the field two assignments set differently", function () {
        const nic = (extra: Record<string, unknown>[]) =>
            parseFleetConfig(fleet(1, { assignments: [{ nic: { interface: "eth1", rings: { rx: 1024 } } }, { nic: { interface: "eth1", coalesce: { rxUsecs: 50 } } }, ...extra] }));
        const composed = nic([]);
        assert.deepEqual(assignHost(composed, composed.hosts[0]).parts.nic, { interface: "eth1", persist: true, rings: { rx: 1024 }, coalesce: { rxUsecs: 50 } });
        const clash = nic([{ nic: { interface: "eth1", rings: { rx: 2048, tx: 512 } } }]);
        assert.throws(() => assignHost(clash, clash.hosts[0]), (e: Error) => {
            assert.match(e.message, /^h1: assignments conflict:\n  nic\.rings\.rx: assignments\[0\] sets 1024, assignments\[2\] sets 2048\nSet the field in the host's overrides/);
            assert.doesNotMatch(e.message, /rings\.tx|sysctlOverrides/);
            return true;
        });
    });

    it("lets a host's own overrides settle a field or a CPU placement its assignments disagree on, and checks them", function () {
        const facts = { interface: "eth1", linkGbps: 25, rttMs: 20, memoryGiB: 64, applicationCpus: "2-5" };
        const onOneHost = (overrides: Record<string, unknown>, assignments: FleetConfigInput["assignments"] = [{ profile: "low-latency" }, { profile: "sip-router" }]) => {
            const config = parseFleetConfig(fleet(1, { hosts: fleet(1).hosts.map((h) => ({ ...h, facts, overrides })), assignments }));
            return assignHost(config, config.hosts[0]);
        };
        const settled = onOneHost({ irqs: { cpus: "0-1" } });
        assert.equal((settled.parts.irqs as { cpus?: string }).cpus, "0-1");
        assert.equal(settled.parts.irqs?.numaLocal, undefined, "the host's placement replaces the assignments' whole");
        assert.equal(settled.parts.irqs?.spread, undefined);
        assert.equal(settled.parts.irqs?.interface, "eth1");
        const field = onOneHost({ nic: { coalesce: { adaptiveRx: false } } }, [{ profile: "high-throughput" }, { profile: "low-latency" }]);
        assert.equal(field.parts.nic?.coalesce?.adaptiveRx, false);
        assert.ok(field.parts.nic?.rings, "the fields no one disputes stay");
        const dropped = onOneHost({ nic: { coalesce: { adaptiveRx: null } } }, [{ profile: "high-throughput" }, { profile: "low-latency" }]);
        assert.ok(dropped.parts.nic?.coalesce && !("adaptiveRx" in dropped.parts.nic.coalesce), "null drops the field, settling it");
        // Only what the host sets is settled: another field in dispute still fails.
        assert.throws(() => onOneHost({ nic: { rings: { rx: 512 } } }, [{ profile: "high-throughput" }, { profile: "low-latency" }]), /nic\.coalesce\.adaptiveRx: assignments\[0\]/);
        assert.throws(() => onOneHost({ irqs: { cpus: "9-2" } }), /invalid fleet config \(for h1\):\n  hosts\[0\]\.overrides\.irqs\.cpus: /);
        const alone = onOneHost({ governor: { governor: "performance" } }, [{ sysctls: { "net.core.somaxconn": 4096 } }]);
        assert.deepEqual(alone.parts.governor, { persist: true, governor: "performance" }, "a part no assignment sets");
        assert.throws(() => parseFleetConfig(fleet(1, { hosts: fleet(1).hosts.map((h) => ({ ...h, overrides: { sysctls: {} } as never })) })), /hosts\[0\]\.overrides: /);
    });

    it("checks every composed part by its resource's grammar, naming the config path it came from", function () {
        const config = parseFleetConfig(
            fleet(2, {
                hosts: [
                    { name: "h1", connection: { host: "10.0.0.1", hostKey: KEY }, facts: { interface: "eth1" } },
                    { name: "h2", connection: { host: "10.0.0.2", hostKey: KEY }, facts: { interface: "eth1" }, sysctlOverrides: { "net.core.somaxconn": -5 } },
                ],
                assignments: [
                    { profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 }, sysctlOverrides: { "net.ipv4.tcp_fin_timeout": -1 } },
                    { select: { name: "h1" }, nic: { rings: { rx: -1 } }, sysctls: { "net.ipv4.tcp_congestion_control": "cubic; touch x" } },
                ],
            }),
        );
        assert.throws(() => assignHost(config, config.hosts[0]), (e: Error) => {
            assert.match(e.message, /^invalid fleet config \(for h1\):\n/);
            assert.match(e.message, /  assignments\[0\]\.sysctlOverrides\["net\.ipv4\.tcp_fin_timeout"\]: /);
            assert.match(e.message, /  assignments\[1\]\.sysctls\["net\.ipv4\.tcp_congestion_control"\]: /);
            assert.match(e.message, /  assignments\[1\]\.nic\.rings\.rx: /);
            return true;
        });
        assert.throws(() => assignHost(config, config.hosts[1]), /  hosts\[1\]\.sysctlOverrides\["net\.core\.somaxconn"\]: /);
        const fine = parseFleetConfig(fleet(2, { assignments: [{ nic: { interface: "eth1", rings: { rx: 1024 } } }] }));
        assert.equal(assignHost(fine, fine.hosts[0]).parts.nic?.rings?.rx, 1024);
    });

    it("refuses a profile without the facts it needs, or with facts it cannot compute from, naming the assignment and host", function () {
        const config = parseFleetConfig(fleet(1, { assignments: [{ profile: "high-throughput", facts: { linkGbps: 10 } }] }));
        assert.throws(() => assignHost(config, config.hosts[0]), /assignments\[0\] \(high-throughput\) on h1: the profile needs facts\.rttMs/);
        const half = parseFleetConfig(fleet(2, { assignments: [{ profile: "sip-router", facts: { memoryGiB: 8 } }] }));
        half.hosts[1].facts = { cpus: 16 };
        assert.equal(assignHost(half, half.hosts[0]).parts.steering, undefined, "neither: no steering");
        assert.throws(() => assignHost(half, half.hosts[1]), /^Error: assignments\[0\] \(sip-router\) on h2: sip-router: cpus is given without rxQueues/, "and facts it cannot compute from");
    });
});

describe("fleet: shards", function () {
    it("splits by a label into <stack>-<value> stacks, refusing a host without it or a value that cannot name a stack", function () {
        const hosts = fleet(3).hosts;
        assert.deepEqual([...shardsBy(hosts, "rack", "prod")].map(([name, members]) => [name, members.map((h) => h.name)]), [
            ["prod-a", ["h1", "h3"]],
            ["prod-b", ["h2"]],
        ]);
        assert.throws(() => shardsBy(hosts, "row", "prod"), /h1 has no label row/);
        assert.throws(() => shardsBy([{ ...hosts[0], labels: { rack: "rack 1/2" } }], "rack", "prod"), /h1: label rack="rack 1\/2" cannot name a stack/);
        assert.deepEqual([...shardsBy(hosts, "rack", "acme/prod").keys()], ["acme/prod-a", "acme/prod-b"], "an org-qualified stack keeps its prefix");
        assert.throws(() => shardsBy([{ ...hosts[0], labels: { rack: "1/2" } }], "rack", "acme/prod"), /cannot name a stack/);
        assert.deepEqual(staleShards(["acme/prod-a", "prod-b", "prod-c"], "acme/prod", ["acme/prod-a"]), ["prod-b", "prod-c"], "the default org's stacks are listed without it");
        assert.ok(listedStack(["prod-a"], "acme/prod-a") && listedStack(["acme/prod-a"], "prod-a") && !listedStack(["prod-ab"], "acme/prod-a"));
        assert.ok(listedStack(["acme/fleet/prod-a"], "acme/prod-a"), "a DIY backend lists organization/project/stack");
        assert.ok(sameStack("prod", "acme/prod") && sameStack("acme/prod", "prod") && !sameStack("prod", "prod-a") && !sameStack(undefined, "prod"), "a shard's mark, however the org was written");
        assert.deepEqual(staleShards(["prod", "prod-a", "prod-c", "production", "dev-a"], "prod", ["prod-a", "prod-b"]), ["prod-c"]);
    });

    it("gives each shard only the assignments and waves that select its hosts, so its stack's config is valid on its own", function () {
        const declared = fleet(4, {
            hosts: fleet(4).hosts.map((h, i) => ({ ...h, labels: { ...h.labels, tier: i === 0 ? "canary" : "main" } })),
            assignments: [...fleet(4).assignments, { select: { rack: "b" }, thp: { enabled: "never" } }],
            rollout: { waves: [{ select: { tier: "canary" }, maxFailures: 0 }, { select: { rack: "b", tier: "main" } }], maxFailures: 1 },
        });
        const whole = parseFleetConfig(declared);
        const [a, b] = [...shardsBy(declared.hosts, "rack", "prod").values()].map((hosts) => shardConfig(whole, declared, hosts));
        assert.deepEqual(a.assignments, declared.assignments.slice(0, 1));
        assert.deepEqual(a.rollout, { waves: [{ select: { tier: "canary" }, maxFailures: 0 }], maxFailures: 1 });
        assert.deepEqual(b.assignments, declared.assignments);
        assert.deepEqual(b.rollout, { waves: [{ select: { rack: "b", tier: "main" } }], maxFailures: 1 });
        assert.deepEqual(
            [a, b].map((shard) => planWaves(parseFleetConfig(shard)).map((w) => w.hosts.map((h) => h.name))),
            [[["h1"], ["h3"]], [["h2", "h4"]]],
            "the waves the whole fleet's rollout gives each shard's hosts",
        );
        const noWaveOfTheirs = shardConfig(whole, declared, declared.hosts.slice(2, 3));
        assert.deepEqual(noWaveOfTheirs.rollout, { serial: [1, "100%"], maxFailures: 1 }, "a canary of its own: no other shard's holds it back");
        const shards = shardsBy(declared.hosts, "rack", "prod");
        assert.match(shardCanaryNote(whole, shards) ?? "", /^no host of the fleet's first wave is in prod-b: /, "rack b holds no host of the canary wave");
        assert.equal(shardCanaryNote(parseFleetConfig({ ...declared, rollout: { waves: [{ select: { tier: "main" } }] } }), shards), undefined, "every shard holds a host of the first wave");
        assert.deepEqual(shardConfig(parseFleetConfig(fleet(2)), fleet(2), fleet(2).hosts.slice(1)).rollout, { maxFailures: 0 });
    });

    it("says when serial, taken of each shard's own hosts, starts more hosts at once than the whole fleet's first wave", function () {
        const byRack = shardsBy(fleet(4).hosts, "rack", "prod");
        assert.equal(
            shardCanaryNote(parseFleetConfig(fleet(4)), byRack),
            'serial [1,"100%"] is taken of each shard\'s own hosts: the first waves of the 2 shards start 2 hosts at once, where the whole fleet\'s would start 1; for one canary, roll one shard out first',
        );
        assert.equal(shardCanaryNote(parseFleetConfig(fleet(4, { rollout: { serial: ["50%"] } })), byRack), undefined, "half of each rack is half of the fleet");
        assert.match(shardCanaryNote(parseFleetConfig(fleet(4, { rollout: { serial: [2, "100%"] } })), byRack) ?? "", /start 4 hosts at once, where the whole fleet's would start 2/);
        assert.equal(shardCanaryNote(parseFleetConfig(fleet(4)), new Map([["prod-a", fleet(4).hosts]])), undefined, "one shard: its canary is the fleet's");
    });

    it("leaves out of a shard a wave whose hosts there all go in its earlier waves", function () {
        const declared = fleet(4, { rollout: { waves: [{ select: { name: "h1" } }, { select: { rack: "a" } }, { select: { rack: ["a", "b"] } }] } });
        const whole = parseFleetConfig(declared);
        const [a, b] = [...shardsBy(declared.hosts, "rack", "prod").values()].map((hosts) => shardConfig(whole, declared, hosts));
        assert.deepEqual(a.rollout?.waves, [{ select: { name: "h1" } }, { select: { rack: "a" } }]);
        assert.deepEqual(b.rollout?.waves, [{ select: { rack: ["a", "b"] } }]);
        assert.deepEqual(planWaves(parseFleetConfig(a)).map((w) => w.hosts.map((h) => h.name)), [["h1"], ["h3"]]);
    });
});

describe("fleet: rollout command", function () {
    it("finds the stack to roll out however its org is written, and its config file by its own name", function () {
        assert.equal(stackConfigFile("acme/fleet-a"), "Pulumi.fleet-a.yaml");
        assert.equal(stackConfigFile("organization/tuning/fleet-a"), "Pulumi.fleet-a.yaml");
        assert.equal(stackConfigFile("fleet-a"), "Pulumi.fleet-a.yaml");
        assert.ok(listedStack(["dev", "fleet-a"], "acme/fleet-a"), "Pulumi Cloud lists the default org's stacks without it");
        assert.ok(listedStack(["organization/tuning/fleet-a"], "fleet-a"));
        assert.ok(!listedStack(["fleet-ab", "fleet"], "fleet-a"));
    });

});

describe("fleet: command options", function () {
    /** The usage error commander raises for these arguments, before any action runs. */
    const usageError = async (...args: string[]): Promise<CommanderError> => {
        const silent = { writeErr: () => undefined, writeOut: () => undefined };
        cliProgram.commands.forEach((command) => command.configureOutput(silent));
        return cliProgram.parseAsync(args, { from: "user" }).then(
            () => assert.fail(`${args.join(" ")} was accepted`),
            (e: unknown) => (e instanceof CommanderError ? e : assert.fail(String(e))),
        );
    };

    it("refuses options that would silently drop one another", async function () {
        for (const args of [
            ["drift", "--stack", "S", "--merge", "a.json"],
            ["diagnose", "--local", "--stack", "S"],
            ["diagnose", "--local", "--host", "h1"],
            ["diagnose", "--stack", "S", "--host", "h1", "--local"],
        ]) {
            const e = await usageError(...args);
            assert.equal(e.code, "commander.conflictingOption", args.join(" "));
            assert.notEqual(e.exitCode, 0);
        }
        assert.equal((await usageError("drift", "--stack", "S", "--jsn")).code, "commander.unknownOption", "as any other usage error");
    });

    it("diagnoses on each host of a stack the NIC its gates sample, its facts' or its assignments', unless -i names one", function () {
        const config = parseFleetConfig(
            fleet(2, {
                hosts: fleet(2).hosts.map((h, i) => ({ ...h, facts: i === 0 ? { interface: "ens5" } : {} })),
                assignments: [{ profile: "high-throughput", facts: { interface: "eth1", linkGbps: 25, rttMs: 1 } }],
            }),
        );
        assert.deepEqual(config.hosts.map((h) => interfaceToDiagnose(config, h)), ["ens5", "eth1"]);
        assert.deepEqual(config.hosts.map((h) => interfaceToDiagnose(config, h, "eth2")), ["eth2", "eth2"]);
    });
});

describe("fleet: drift report", function () {
    const FILE = "/etc/sysctl.d/90-pulumi-fleet-h4-sysctls.conf";
    const declared = (settings: Record<string, SettingValue>, onMissing: "skip" | "fail" = "skip") => sysctlSetInputsSchema.parse({ settings, onMissing, resourceName: "fleet-h4-sysctls" });
    const read = (values: string[], file: string | null) => parseReadOutput([...values, file === null ? `own-absent\t${FILE}` : `own\t${FILE}\t${Buffer.from(file).toString("base64")}`].join("\n"));
    const settings = { "net.ipv4.tcp_fin_timeout": { atMost: 30 }, "net.core.somaxconn": { atLeast: 4096 }, "net.core.netdev_max_backlog": 1000 };
    // As the provider wrote it: the engine delivers the settings' keys sorted.
    const written = renderPersistFile("fleet-h4-sysctls", { "net.core.somaxconn": "4096", "net.ipv4.tcp_fin_timeout": "30" });
    const live = ["value\tnet/ipv4/tcp_fin_timeout\t45", "value\tnet/core/somaxconn\t4096", "missing\tnet/core/netdev_max_backlog"];
    const rowsOf = (rows: DriftRow[]) => rows.map((r) => [r.key, r.desired, r.live, r.persisted, r.status]);

    it("reads a sysctl.d file's key = value lines", function () {
        assert.deepEqual([...persistedValues("# c\nnet.core.somaxconn = 4096\n; x\nnet/ipv4/tcp_rmem=4096 1 2\n")], [
            ["net.core.somaxconn", "4096"],
            ["net.ipv4.tcp_rmem", "4096 1 2"],
        ]);
    });

    it("lists desired, live and persisted per key, flagging what drifted", function () {
        const rows = sysctlRows("h4", declared(settings), read(live, written));
        assert.deepEqual(rowsOf(rows), [
            ["net.ipv4.tcp_fin_timeout", "<= 30", "45", "30", "drifted"],
            ["net.core.somaxconn", ">= 4096", "4096", "4096", "ok"],
            ["net.core.netdev_max_backlog", "1000", "missing", "absent", "skipped"],
        ]);
        const merged = mergeReports([report(["a"], rows.slice(1)), report(["b"], rows.slice(0, 1))]);
        assert.deepEqual(merged.stacks, ["a", "b"]);
        assert.equal(merged.drifted, 1);
        assert.throws(() => mergeReports([merged, report(["b"], rows.slice(0, 1))]), /^Error: b: in more than one of the reports to merge; give each stack's report once$/);
    });

    it("never shows a secret key's value: declared, live, persisted or original", function () {
        const key = "net.ipv4.tcp_fastopen_key";
        const value = "00000000-00000000-00000000-0000000a";
        const file = renderPersistFile("fleet-h4-sysctls", { [key]: value });
        const rows = sysctlRows("h4", declared({ [key]: value }), read([`value\tnet/ipv4/tcp_fastopen_key\t${value.replace("a", "b")}`], file), { originals: { [key]: value, "net.ipv6.conf.all.stable_secret": "::1" }, skipped: [] });
        assert.deepEqual(rowsOf(rows).slice(0, 2), [
            [key, "(secret, not shown)", "(secret, not shown)", "(secret, not shown)", "drifted"],
            ["net.ipv6.conf.all.stable_secret", "not declared: restore (secret, not shown)", "missing", "absent", "drifted"],
        ]);
        assert.ok(!JSON.stringify(rows).includes("0000000"), "no part of the key anywhere in the report");
    });

    it("judges a key the host lacks as the provider does: skipped only where up would skip it", function () {
        const missing = (rows: DriftRow[]) => rows.find((r) => r.key === "net.core.netdev_max_backlog")!.status;
        const record = (skipped: string[]) => ({ originals: {}, skipped });
        assert.equal(missing(sysctlRows("h4", declared(settings), read(live, written), record(["net.core.netdev_max_backlog"]))), "skipped", "missing at the rollout too");
        assert.equal(missing(sysctlRows("h4", declared(settings), read(live, written), record([]))), "drifted", "set at the rollout, gone since (a module not loaded after a reboot)");
        assert.equal(missing(sysctlRows("h4", declared(settings, "fail"), read(live, written))), "drifted", "missingKeys: fail would fail the up");
        const secret = "net.ipv6.conf.all.stable_secret";
        const unreadable = sysctlRows("h4", declared({ [secret]: "::1" }), read(["unreadable\tnet/ipv6/conf/all/stable_secret\tInput/output error"], null));
        assert.deepEqual([unreadable[0].live, unreadable[0].status], ["unreadable", "drifted"], "a key the host will not let be read fails the up, skipped or not");
        const skippedThen = sysctlRows("h4", declared({ [secret]: "::1" }), read(["unreadable\tnet/ipv6/conf/all/stable_secret\tInput/output error"], null), record([secret]));
        assert.equal(skippedThen[0].status, "drifted", "missing at the rollout, unreadable now: the next up fails");
    });

    it("keeps quiet about a writeback partner whose original the rollout kept beside a declared key", function () {
        const dirty = { "vm.dirty_bytes": 268435456 };
        const file = renderPersistFile("fleet-h4-sysctls", { "vm.dirty_bytes": "268435456" });
        const host = read(["value\tvm/dirty_bytes\t268435456", "value\tvm/dirty_ratio\t0"], file);
        const rollout = { originals: { "vm.dirty_bytes": "0", "vm.dirty_ratio": "20" }, skipped: [] };
        assert.deepEqual(rowsOf(sysctlRows("h4", declared(dirty), host, rollout)), [["vm.dirty_bytes", "268435456", "268435456", "268435456", "ok"]], "the kernel zeroed vm.dirty_ratio as vm.dirty_bytes was written");
        const dropped = rowsOf(sysctlRows("h4", declared({ "net.core.somaxconn": 4096 }), read(["value\tnet/core/somaxconn\t4096", "value\tvm/dirty_bytes\t268435456", "value\tvm/dirty_ratio\t0"], renderPersistFile("fleet-h4-sysctls", { "net.core.somaxconn": "4096" })), { originals: { ...rollout.originals, "net.core.somaxconn": "128" }, skipped: [] }));
        assert.deepEqual(dropped.slice(1).map((r) => [r[0], r[1], r[4]]), [
            ["vm.dirty_bytes", "not declared: restore 0", "drifted"],
            ["vm.dirty_ratio", "not declared: restore 20", "drifted"],
        ], "with the declared key dropped, both go back at the next up");
    });

    it("reports a key the rollout set and the config dropped, and a sysctl.d file changed behind the fleet's back", function () {
        const rollout = { originals: { "net.ipv4.tcp_fin_timeout": "60", "net.ipv4.tcp_keepalive_time": "7200" }, skipped: [] };
        const withDropped = renderPersistFile("fleet-h4-sysctls", { "net.ipv4.tcp_fin_timeout": "30", "net.ipv4.tcp_keepalive_time": "600" });
        const rows = sysctlRows("h4", declared({ "net.ipv4.tcp_fin_timeout": 30 }), read(["value\tnet/ipv4/tcp_fin_timeout\t30", "value\tnet/ipv4/tcp_keepalive_time\t600"], withDropped), rollout);
        assert.deepEqual(rowsOf(rows), [
            ["net.ipv4.tcp_fin_timeout", "30", "30", "30", "ok"],
            ["net.ipv4.tcp_keepalive_time", "not declared: restore 7200", "600", "600", "drifted"],
            [FILE, "as the declared settings write it", "different", "", "drifted"],
        ]);
        const ledgerFile = "/var/lib/pulumi-linux-tuning/sysctl/fleet-h4-sysctls.ledger";
        const asWritten = renderPersistFile("fleet-h4-sysctls", { "net.core.somaxconn": "4096" });
        const ledgerLines = [`ledger\t${ledgerFile}\towner\tp/s/fleet-h4/sysctls`, `ledger\t${ledgerFile}\tkey\tnet/ipv4/tcp_keepalive_time\t7200`];
        const holdsMore = rowsOf(sysctlRows("h4", declared({ "net.core.somaxconn": 4096 }), read([...live.slice(1, 2), ...ledgerLines], asWritten), { originals: {}, skipped: [], ledgerFile }));
        assert.deepEqual(holdsMore.slice(-1)[0].slice(0, 2), ["(ledger)", "the originals the rollout recorded"], "a ledger holding more than state, as refresh reports it");
        assert.match(String(holdsMore.slice(-1)[0][2]), /^differs from state: .*net\.ipv4\.tcp_keepalive_time/);
        assert.equal(sysctlRows("h4", declared({ "net.core.somaxconn": 4096 }), read(live.slice(1, 2), asWritten), { originals: {}, skipped: [], ledgerFile }).length, 1, "a ledger gone is not drift to refresh either");
        const appended = sysctlRows("h4", declared(settings), read(live.slice(1, 2), `${renderPersistFile("fleet-h4-sysctls", { "net.core.somaxconn": "4096" })}vm.swappiness = 100\n`));
        assert.deepEqual(rowsOf(appended).slice(-1), [[FILE, "as the declared settings write it", "different", "", "drifted"]], "a line the fleet never wrote");
        assert.deepEqual(rowsOf(sysctlRows("h4", declared({ "net.core.somaxconn": 4096 }), read(live.slice(1, 2), null))).slice(-1), [[FILE, "as the declared settings write it", "missing", "", "drifted"]]);
        assert.deepEqual(rowsOf(sysctlRows("h4", declared({ "net.core.somaxconn": 4096 }), read(live.slice(1, 2), renderPersistFile("fleet-h4-sysctls", { "net.core.somaxconn": "4096" })))), [["net.core.somaxconn", "4096", "4096", "4096", "ok"]]);
    });

    it("reports the sysctl.d file a rollout wrote that the config no longer persists to", function () {
        const unpersisted = sysctlSetInputsSchema.parse({ settings: { "net.core.somaxconn": 4096 }, persist: false, resourceName: "fleet-h4-sysctls" });
        const rollout = { originals: { "net.core.somaxconn": "128" }, skipped: [], managedFiles: { originals: { [FILE]: { kind: "absent" as const } }, written: {}, createdDirs: [] } };
        const rows = rowsOf(sysctlRows("h4", unpersisted, read(live.slice(1, 2), renderPersistFile("fleet-h4-sysctls", { "net.core.somaxconn": "4096" })), rollout));
        assert.deepEqual(rows, [
            ["net.core.somaxconn", "4096", "4096", "4096", "ok"],
            [FILE, "absent: the config no longer persists here", "written by the rollout", "", "drifted"],
        ]);
        assert.equal(sysctlRows("h4", unpersisted, read(live.slice(1, 2), null), rollout).length, 1, "once up has put it back, nothing to report");
    });

    it("reports a host whose key file cannot be read as unreachable, without a connection", async function () {
        const config = parseFleetConfig({ ...fleet(1), defaults: { user: "root", privateKeyPath: "/nonexistent/key" } });
        const rows = await readFleetDrift(config, {}, new Map());
        assert.deepEqual(rows.map((r) => [r.host, r.key, r.status]), [["h1", "(host)", "unreachable"]]);
        assert.equal(rows[0].live, "invalid fleet config (for h1): defaults.privateKeyPath: cannot read /nonexistent/key: ENOENT", "on one line, naming the config path");
    });

    it("refuses, before reading any host, a config the rollout would refuse: a host no assignment selects, a NIC counter for a host without an interface", async function () {
        const config = fleet(2);
        config.assignments = [{ select: { name: "h1" }, profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 } }];
        config.rollout = { counterConditions: [{ counter: "link.IF.rx_dropped", maxPerSecond: 1, windowSeconds: 1 }] };
        config.hosts = config.hosts.map((h) => ({ ...h, facts: {} }));
        await assert.rejects(readFleetDrift(parseFleetConfig(config), {}, new Map()), (e: Error) => {
            assert.ok(e instanceof FleetConfigError);
            assert.match(e.message, /h1: rollout\.counterConditions\[0\]\.counter names IF, and no facts\.interface/);
            assert.match(e.message, /h2: no assignment selects this host/);
            return true;
        });
    });

    it("refuses a gate's counter that names a NIC the host's sampler does not read, in the fleet and in a WaveGate", function () {
        const onEth1 = (counter: string) => {
            const config = parseFleetConfig({ ...fleet(1), rollout: { counterConditions: [{ counter, maxPerSecond: 1, windowSeconds: 1 }] } });
            return planHost(config, { ...config.hosts[0], facts: { interface: "eth1" } });
        };
        assert.throws(() => onEth1("link.eth2.rx_dropped"), /^Error: h1: rollout\.counterConditions\[0\]\.counter: link\.eth2\.rx_dropped names a NIC other than eth1, the one sampled \(link\.IF\.… names each host's own\) on this host$/);
        for (const fine of ["link.eth1.rx_dropped", "irq.IF.cpu0", "Udp.RcvbufErrors"]) {
            assert.doesNotThrow(() => onEth1(fine), fine);
        }
        const gate = (counter: string) => {
            const host = (name: string, iface?: string) => ({ name, status: "applied", parts: {}, ...(iface ? { interface: iface } : {}) });
            const inputs = { wave: 1, hosts: [host("h1", "eth1"), host("h2", "eth2"), host("h3")], counterConditions: [{ counter, maxPerSecond: 1, windowSeconds: 1 }] };
            return checkFailures(waveGateInputsSchema, inputs).map((f) => [f.property, f.reason]);
        };
        assert.deepEqual(gate("nic.eth1.rx_missed_errors"), [["counterConditions[0].counter", "nic.eth1.rx_missed_errors names a NIC these hosts do not sample: h2 (eth2), h3 (no interface); nic.IF.… names each host's own"]]);
        assert.deepEqual(gate("Udp.RcvbufErrors"), []);
    });

    it("finds each host's recorded parts among the exported state's resources", function () {
        const nic = { id: "n", state: { interface: "eth1" } };
        const resources = [
            { type: "pulumi:pulumi:Stack", outputs: {} },
            { type: "pulumi-nodejs:dynamic/linux-tuning:HostTuning", outputs: { resourceName: "fleet-h1", parts: { nic }, status: "failed: nic.rings.rx: 8192 is above the maximum 4096" } },
            { type: "pulumi-nodejs:dynamic/linux-tuning:HostTuning", outputs: { resourceName: "other-h2", parts: { nic } } },
            { type: "pulumi-nodejs:dynamic/linux-tuning:HostTuning", outputs: { resourceName: "fleet-h3" } },
            { type: "pulumi-nodejs:dynamic/linux-tuning:SysctlSet", outputs: { resourceName: "fleet-h4", parts: { nic } } },
        ];
        const hosts = recordedHosts({ resources });
        assert.deepEqual([...hosts], [
            ["h1", { parts: { nic }, status: "failed: nic.rings.rx: 8192 is above the maximum 4096" }],
            ["h3", { parts: {} }],
        ]);
        assert.deepEqual([...recordedHosts({})], []);
        const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(value) });
        const withSecretKey = [{ type: "pulumi-nodejs:dynamic/linux-tuning:HostTuning", outputs: { resourceName: "fleet-h5", parts: secret({ nic }), status: "applied" } }];
        assert.deepEqual([...recordedHosts({ resources: withSecretKey })], [["h5", { parts: { nic }, status: "applied" }]], "parts kept secret for a secret sysctl key, as --show-secrets exports them");
        const { plaintext: _, ...sealed } = secret({ nic });
        assert.throws(() => recordedHosts({ resources: [{ ...withSecretKey[0], outputs: { ...withSecretKey[0].outputs, parts: sealed } }] }), /export it with --show-secrets/);
        // Parts that match state are not "ok" for a host whose last rollout failed.
        assert.deepEqual(
            rolloutRow("h1", hosts.get("h1")!.status).map((r) => [r.key, r.desired, r.live, r.status]),
            [["(rollout)", "applied", "failed: nic.rings.rx: 8192 is above the maximum 4096", "drifted"]],
        );
        assert.deepEqual(rolloutRow("h3", "applied"), []);
        assert.deepEqual(rolloutRow("h3", undefined), []);
    });

    it("reports a host still tuned in state and no longer in the config, without reading it", function () {
        const applied = { id: "x", state: {} };
        const recorded = new Map([
            ["kept", { parts: { sysctls: applied } }],
            ["removed", { parts: { nic: applied, sysctls: applied }, status: "applied" }],
            ["never-tuned", { parts: {}, status: "not attempted" }],
        ]);
        const config = parseFleetConfig(fleet(1));
        const kept = [{ ...config.hosts[0], name: "kept" }];
        assert.deepEqual(
            undeclaredHostRows(kept, recorded).map((r) => [r.host, r.key, r.desired, r.live, r.status]),
            [["removed", "(host)", "not declared", "applied: sysctls, nic", "drifted"]],
        );
        assert.deepEqual(undeclaredHostRows([...kept, { ...kept[0], name: "removed" }], recorded), []);
    });

    it("lists the other parts against what was applied: per drifted item, ok per clean part, and parts not applied or no longer declared", function () {
        const applied = { id: "x", state: {} };
        const rows = partRows("h1", ["sysctls", "nic", "irqs", "thp"], { sysctls: applied, nic: applied, irqs: applied, governor: applied }, [
            "nic: eth1 rx live 512, desired 4096",
            "nic: /etc/udev/rules.d/90-pulumi-x.rules is missing",
            "sysctls: net.core.somaxconn live 1, desired 2",
        ]);
        assert.deepEqual(
            rows.map((r) => [r.host, r.key, r.desired, r.live, r.status]),
            [
                ["h1", "nic: eth1 rx", "4096", "512", "drifted"],
                ["h1", "nic", "as applied", "/etc/udev/rules.d/90-pulumi-x.rules is missing", "drifted"],
                ["h1", "irqs", "as applied", "as applied", "ok"],
                ["h1", "governor", "not declared", "applied", "drifted"],
                ["h1", "thp", "declared", "not applied", "drifted"],
            ],
        );
        assert.equal(report(["s"], rows).drifted, 4);
        assert.deepEqual(
            partRows("h1", ["nic"], { sysctls: applied, nic: applied }, []).map((r) => [r.key, r.desired, r.live, r.status]),
            [
                ["sysctls", "not declared", "applied", "drifted"],
                ["nic", "as applied", "as applied", "ok"],
            ],
            "sysctls rolled out and no longer declared",
        );
        const unread = partRows("h1", ["nic", "irqs"], { nic: applied, irqs: applied }, [], { nic: "eth1 does not exist" });
        assert.deepEqual(
            unread.map((r) => [r.key, r.live, r.status]),
            [
                ["nic", "could not read: eth1 does not exist", "drifted"],
                ["irqs", "as applied", "ok"],
            ],
        );
    });
});
