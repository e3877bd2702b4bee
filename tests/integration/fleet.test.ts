import { strict as assert } from "assert";
import { spawn } from "child_process";
import { createHash } from "crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { fleetProgram } from "../../components/fleet";
import type { FleetConfigInput } from "../../components/fleet/inventory";
import { LEDGER_ROOT, renderHostLedger } from "../../provider/host/ledger";
import { verifyParts } from "../../provider/host-tuning/handlers";
import { transportFor } from "../../provider/transport";
import type { Transport } from "../../provider/transport/transport";
import { create as judgeWave } from "../../provider/wave-gate/handlers";
import { checkCommand } from "../../provider/wave-gate/plan";
import { runHealthCheck } from "../../provider/wave-gate/remote";
import { healthCheckSchema } from "../../provider/wave-gate/schema";
import { labFleetConfig } from "../lab/stack-config";
import { labStack, storedStateText } from "./engine";
import { Lab, LabHost, labDown, labUp, listenBurst, newHostKey, onHost, setSysctlOn, sshConnectionCount, sysctlOn } from "./lab";
import { collect, expectFailure } from "./support";

/** The default program (Pulumi.yaml's main) on a stack whose config is `config`. */
async function fleetStack(project: string, config: FleetConfigInput): Promise<Stack> {
    const stack = await labStack(project, async () => fleetProgram());
    await setFleetConfig(stack, config);
    return stack;
}

async function setFleetConfig(stack: Stack, config: FleetConfigInput): Promise<void> {
    await stack.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`pulumi-linux-tuning:${k}`, { value: JSON.stringify(v) }])));
}

/** Engine events in order: which resource step started ("pre") or finished ("out"). */
function eventLog() {
    const log: { seq: number; kind: "pre" | "out"; name: string }[] = [];
    const onEvent = (e: EngineEvent) => {
        const pre = e.resourcePreEvent?.metadata;
        const out = e.resOutputsEvent?.metadata;
        if (pre && pre.op !== "same") {
            log.push({ seq: e.sequence, kind: "pre", name: pre.urn.split("::").pop()! });
        }
        if (out && out.op !== "same") {
            log.push({ seq: e.sequence, kind: "out", name: out.urn.split("::").pop()! });
        }
    };
    return { onEvent, log };
}

const UNHEALTHY = "/etc/plt-unhealthy";
/** Healthy unless the host has /etc/plt-unhealthy (each lab host has its own /etc). */
const HEALTH_CHECK = { create: `if [ -e ${UNHEALTHY} ]; then echo "unhealthy: $(cat ${UNHEALTHY})"; exit 1; fi; echo ok`, timeoutSeconds: 10 };

describe("Fleet rollout through the real engine on 8 lab hosts", function () {
    this.timeout(15 * 60 * 1000);
    let lab: Lab;
    const original = new Map<string, string>();
    const finTimeout = (host: LabHost) => sysctlOn(lab, host, "net.ipv4.tcp_fin_timeout");

    before(function () {
        lab = labUp(8);
        for (const host of lab.hosts) {
            original.set(host.name, finTimeout(host));
            assert.notEqual(original.get(host.name), "30", "the VM default must differ from the profile's bound");
        }
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });
    afterEach(function () {
        for (const host of lab.hosts) {
            try {
                onHost(lab, host, ["rm", "-f", UNHEALTHY]);
            } catch {
                // The host the unreachable test took away.
            }
        }
    });

    const untouched = (hosts: LabHost[]) => {
        for (const host of hosts) {
            assert.equal(finTimeout(host), original.get(host.name), `${host.name} must not have been touched`);
        }
    };
    const tuned = (hosts: LabHost[]) => {
        for (const host of hosts) {
            assert.equal(finTimeout(host), "30", `${host.name} must be tuned`);
        }
    };

    it("rolls out canary(1) → 25% → rest in that order, reports the waves, gates CI on drift, and restores on destroy", async function () {
        const config = { ...labFleetConfig(lab), rollout: { serial: [1, "25%", "100%"], healthCheck: HEALTH_CHECK } };
        const stack = await fleetStack("fleet-waves", config);
        try {
            const events = eventLog();
            const up = await stack.up({ onEvent: events.onEvent });
            const waves = up.outputs.waves.value as { wave: number; hosts: string[]; passed: boolean }[];
            assert.deepEqual(
                waves.map((w) => w.hosts),
                [["h1"], ["h2", "h3"], ["h4", "h5", "h6", "h7", "h8"]],
            );
            assert.ok(waves.every((w) => w.passed));
            // The engine's own events: every host of wave N finished before gate N started, and
            // gate N finished before any host of wave N+1 started.
            const seq = (kind: "pre" | "out", name: string) => events.log.find((e) => e.kind === kind && e.name === name)?.seq ?? assert.fail(`no ${kind} event for ${name}`);
            for (const [i, wave] of waves.entries()) {
                const gate = `fleet-wave-${wave.wave}`;
                // The wave's baselines are taken, all at once, after the gate before it and before any of its writes.
                const evidence = `${gate}-evidence`;
                if (i > 0) {
                    assert.ok(seq("out", `fleet-wave-${wave.wave - 1}`) < seq("pre", evidence), `${evidence} after the gate before it`);
                }
                for (const host of wave.hosts) {
                    assert.ok(seq("out", evidence) < seq("pre", `fleet-${host}`), `${evidence} before ${host} is tuned`);
                    assert.ok(seq("out", `fleet-${host}`) < seq("pre", gate), `${host} applied before ${gate}`);
                }
                for (const next of waves[i + 1]?.hosts ?? []) {
                    assert.ok(seq("out", gate) < seq("pre", `fleet-${next}`), `${gate} passed before ${next} started`);
                }
            }
            tuned(lab.hosts);
            const hosts = up.outputs.hosts.value as Record<string, { wave: number; status: string; check?: { output: string } }>;
            assert.equal(hosts.h5.wave, 3);
            assert.equal(hosts.h5.status, "applied");
            assert.equal(hosts.h5.check?.output, "ok");
            // Each host's profile counters, measured before its first write.
            const evidence = (up.outputs.hosts.value as Record<string, { evidence?: { before: Record<string, number | null> } }>).h5.evidence;
            assert.deepEqual(Object.keys(evidence?.before ?? {}).sort(), ["TcpExt.ListenDrops", "TcpExt.ListenOverflows"]);
            const key = readFileSync(lab.privateKeyPath, "utf8").split("\n")[2];
            assert.ok(!storedStateText(stack).includes(key), "the private key is only ciphertext in state");

            // The CI gate: clean fleet → exit 0; one key changed on one host → non-zero, naming host and key.
            await stack.preview({ refresh: true, expectNoChanges: true });
            setSysctlOn(lab, lab.hosts[5], "net.ipv4.tcp_fin_timeout", "45");
            const out = collect();
            await expectFailure(stack.preview({ refresh: true, expectNoChanges: true, diff: true, onOutput: out.onOutput }));
            assert.match(out.text(), /HostTuning::fleet-h6\][\s\S]*net\.ipv4\.tcp_fin_timeout\s*: 45/);
            assert.match(out.text(), /drifted[\s\S]*"sysctls: net\.ipv4\.tcp_fin_timeout live 45, desired/);
            assert.doesNotMatch(out.text(), /HostTuning::fleet-h[1-57-8]\]/, "only h6 drifted");
            // The drift fix changes h6 again, so its wave's gate judges it again: here it finds h6 unhealthy.
            onHost(lab, lab.hosts[5], ["sh", "-c", `echo after-fix > ${UNHEALTHY}`]);
            const fix = eventLog();
            const fixOut = collect();
            await expectFailure(stack.up({ onEvent: fix.onEvent, onOutput: fixOut.onOutput }));
            tuned([lab.hosts[5]]);
            assert.ok(fix.log.some((e) => e.kind === "out" && e.name === "fleet-wave-3"), "the drift fix re-ran wave 3's gate");
            assert.match(fixOut.text(), /h6[\s\S]*unhealthy: after-fix/);
            assert.ok(!fix.log.some((e) => e.name === "fleet-wave-1" || e.name === "fleet-wave-2"), "the other waves' hosts did not change");
        } finally {
            await stack.destroy();
        }
        untouched(lab.hosts);
    });

    it("a canary whose health check fails stops the rollout; after the fix a rerun completes", async function () {
        const [canary, ...rest] = lab.hosts;
        onHost(lab, canary, ["sh", "-c", `echo 'disk full' > ${UNHEALTHY}`]);
        // A check that prints its credential when it fails, as `curl -v` prints an Authorization header.
        const TOKEN = "tok-canary-7f3a9";
        // A TMPDIR of the check's own (one the host lacks) is the check's alone: the wrapper made its files before.
        const healthCheck = { ...HEALTH_CHECK, create: HEALTH_CHECK.create.replace('exit 1', 'echo "Authorization: Bearer $API_TOKEN" >&2; exit 1'), environment: { API_TOKEN: TOKEN, TMPDIR: "/nonexistent/app-tmp" } };
        const rollout = { serial: [1, "25%", "100%"], healthCheck };
        const stack = await fleetStack("fleet-canary", { ...labFleetConfig(lab), rollout });
        // As `pulumi config set --secret`: the token is ciphertext in the stack's config.
        await stack.setConfig("pulumi-linux-tuning:rollout", { value: JSON.stringify(rollout), secret: true });
        try {
            const connections = rest.map((h) => sshConnectionCount(lab, h));
            const message = await expectFailure(stack.up());
            assert.deepEqual(
                rest.map((h) => sshConnectionCount(lab, h)),
                connections,
                "no host of a held wave was even contacted (sshd's own log)",
            );
            assert.match(message, /rollout halted: wave 1/);
            assert.match(message, /h1: failed: health check exited with status 1: unhealthy: disk full/);
            assert.match(message, /Authorization: Bearer \[secret\]/);
            assert.doesNotMatch(message, new RegExp(TOKEN));
            assert.doesNotMatch(storedStateText(stack), new RegExp(TOKEN), "the token appears nowhere in the stored state in plain text");
            untouched(rest);
            const outputs = await stack.outputs();
            const hosts = outputs.hosts.value as Record<string, { status: string; check?: { output: string } }>;
            assert.match(hosts.h1.status, /^failed: health check/);
            assert.equal(hosts.h1.check?.output, "unhealthy: disk full\nAuthorization: Bearer [secret]");
            assert.equal(hosts.h2.status, "not attempted");
            assert.equal(hosts.h8.status, "not attempted");

            // While the rollout is held, h8 leaves the inventory: the held waves' report follows.
            const seven = { ...labFleetConfig({ ...lab, hosts: lab.hosts.slice(0, 7) }), rollout };
            await setFleetConfig(stack, seven);
            await stack.setConfig("pulumi-linux-tuning:rollout", { value: JSON.stringify(rollout), secret: true });
            await expectFailure(stack.up());
            const held = (await stack.outputs()).hosts.value as Record<string, { wave: number; status: string }>;
            assert.deepEqual(Object.keys(held).sort(), ["h1", "h2", "h3", "h4", "h5", "h6", "h7"], "h8 left the report with the inventory");
            assert.deepEqual([held.h2.wave, held.h3.wave], [2, 3], "25% of 7 hosts is 1: h3 moved to wave 3");
            untouched(rest);
            await setFleetConfig(stack, { ...labFleetConfig(lab), rollout });
            await stack.setConfig("pulumi-linux-tuning:rollout", { value: JSON.stringify(rollout), secret: true });

            onHost(lab, canary, ["rm", "-f", UNHEALTHY]);
            const events = eventLog();
            const resumed = await stack.up({ onEvent: events.onEvent });
            const changed = new Set(events.log.map((e) => e.name));
            assert.ok(!changed.has("fleet-h1"), "the applied canary shows no changes");
            const evidence = resumed.outputs.hosts.value as Record<string, { evidence?: { before: Record<string, number | null> } }>;
            for (const host of rest) {
                assert.deepEqual(Object.keys(evidence[host.name].evidence?.before ?? {}).sort(), ["TcpExt.ListenDrops", "TcpExt.ListenOverflows"], `${host.name}, held until now, measured before it was tuned`);
            }
            for (const name of ["fleet-wave-1", "fleet-wave-2", "fleet-wave-3", ...rest.map((h) => `fleet-${h.name}`)]) {
                assert.ok(changed.has(name), `${name} resumed`);
            }
            tuned(lab.hosts);
        } finally {
            await stack.destroy();
        }
        untouched(lab.hosts);
    });

    it("a wave of 4 with 1 failing host stops under a budget of 0 and proceeds under 25%", async function () {
        const five = lab.hosts.slice(0, 5);
        const base = labFleetConfig({ ...lab, hosts: five });
        onHost(lab, five[1], ["sh", "-c", `echo 'app down' > ${UNHEALTHY}`]);
        const stack = await fleetStack("fleet-budget", { ...base, rollout: { serial: [4, "100%"], maxFailures: 0, healthCheck: HEALTH_CHECK } });
        try {
            const message = await expectFailure(stack.up());
            assert.match(message, /wave 1: halted: 3 of 4 hosts healthy, 1 failed, budget 0/);
            untouched([five[4]]);

            await setFleetConfig(stack, { ...base, rollout: { serial: [4, "100%"], maxFailures: "25%", healthCheck: HEALTH_CHECK } });
            const up = await stack.up();
            const waves = up.outputs.waves.value as { outcome: string }[];
            assert.equal(waves[0].outcome, "wave 1: passed: 3 of 4 hosts healthy, 1 failed, budget 1");
            assert.match((up.outputs.hosts.value as Record<string, { status: string }>).h2.status, /failed: health check exited with status 1: unhealthy: app down/);
            tuned([five[4]]);
        } finally {
            await stack.destroy();
        }
        untouched(five);
    });

    it("a host that cannot take its parts fails alone, untouched, and counts against the budget", async function () {
        const three = lab.hosts.slice(1, 4);
        const base = labFleetConfig({ ...lab, hosts: three });
        // h3 is a VM: its NIC's rx ring maximum is 256. Only the host can tell, at apply time.
        const assignments = [...base.assignments, { select: { name: "h3" }, nic: { rings: { rx: 1024 } } }];
        const ringOf = () => onHost(lab, three[1], ["ethtool", "-g", "eth1"]);
        const rings = ringOf();
        const stack = await fleetStack("fleet-host-problem", { ...base, assignments, rollout: { serial: [1, "100%"], maxFailures: 1, healthCheck: HEALTH_CHECK } });
        try {
            const up = await stack.up();
            const hosts = up.outputs.hosts.value as Record<string, { status: string }>;
            assert.match(hosts.h3.status, /^failed: nic\.rings\.rx: .*1024 is above eth1's pre-set maximum 256/);
            assert.equal((up.outputs.waves.value as { outcome: string }[])[1].outcome, "wave 2: passed: 1 of 2 hosts healthy, 1 failed, budget 1");
            tuned([three[0], three[2]]);
            untouched([three[1]]);
            assert.equal(ringOf(), rings);

            await setFleetConfig(stack, { ...base, assignments, rollout: { serial: [1, "100%"], maxFailures: 0, healthCheck: HEALTH_CHECK } });
            const message = await expectFailure(stack.up());
            assert.match(message, /rollout halted: wave 2: halted/);
            assert.match(message, /h3: failed: nic\.rings\.rx: .*maximum 256/);
            untouched([three[1]]);
        } finally {
            await stack.destroy();
        }
        untouched(three);
    });

    it("a host held behind a gate is checked as a new one once admitted: a key another owner holds fails it before any part is written", async function () {
        const [canary, held] = lab.hosts.slice(4, 6);
        const base = labFleetConfig({ ...lab, hosts: [canary, held] });
        // A part applied before the sysctls: what a refusal found only at apply would leave behind.
        const config = { ...base, assignments: [...base.assignments, { select: {}, modules: { modules: ["inet_diag"] } }], rollout: { serial: [1, "100%"], healthCheck: HEALTH_CHECK } };
        const modulesOn = (host: LabHost) => onHost(lab, host, ["sh", "-c", "ls -A /etc/modules-load.d 2>/dev/null; cat /sys/module/inet_diag/initstate 2>/dev/null; true"]);
        const modulesBefore = modulesOn(held);
        const foreign = `${LEDGER_ROOT}/packet-steering/other.ledger`;
        onHost(lab, canary, ["sh", "-c", `echo 'not yet' > ${UNHEALTHY}`]);
        const stack = await fleetStack("fleet-held-checked", config);
        try {
            assert.match(await expectFailure(stack.up()), /rollout halted: wave 1/);
            untouched([held]);
            // While it is held, another stack takes one of its keys.
            const ledger = renderHostLedger({ owner: "other/prod/steer", items: ["/proc/sys/net/ipv4/tcp_fin_timeout"], record: {} });
            onHost(lab, held, ["sh", "-c", 'mkdir -p "${1%/*}" && printf "%s" "$2" > "$1"', "sh", foreign, ledger]);
            onHost(lab, canary, ["rm", "-f", UNHEALTHY]);
            const message = await expectFailure(stack.up());
            assert.match(message, /rollout halted: wave 2/);
            assert.match(message, new RegExp(`${held.name}: failed: sysctls\\.settings: .*net\\.ipv4\\.tcp_fin_timeout is managed by other/prod/steer`));
            untouched([held]);
            assert.equal(modulesOn(held), modulesBefore, "its modules part, first in order, was not applied either");
        } finally {
            onHost(lab, held, ["rm", "-f", foreign]);
            onHost(lab, canary, ["rm", "-f", UNHEALTHY]);
            await stack.destroy();
        }
        untouched([canary, held]);
    });

    it("a host's own overrides settle a CPU placement its assignments disagree on", async function () {
        const server = lab.hosts[0];
        const affinity = () => onHost(lab, server, ["sh", "-c", "for i in 102 103 104 105; do cat /proc/irq/$i/smp_affinity_list; done"]);
        const before = affinity();
        assert.notEqual(before, "1\n1\n1\n1\n", "the emulated NIC's IRQs must not start where the override puts them");
        const assignments: FleetConfigInput["assignments"] = [{ select: {}, irqs: { spread: "0-3" } }, { select: { hardware: "server" }, irqs: { numaLocal: true } }];
        const config = { ...labFleetConfig({ ...lab, hosts: [server] }), assignments };
        const stack = await fleetStack("fleet-overrides", config);
        try {
            const out = collect();
            const failed = await expectFailure(stack.preview({ onOutput: out.onOutput }));
            assert.match(failed + out.text(), /h1: assignments conflict:\s+irqs placement: assignments\[0\] sets \{"spread":"0-3"\}, assignments\[1\] sets \{"numaLocal":true\}\s+Set the field in the host's overrides/);
            await setFleetConfig(stack, { ...config, hosts: [{ ...config.hosts[0], overrides: { irqs: { cpus: "1" } } }] });
            await stack.up();
            assert.equal(affinity(), "1\n1\n1\n1\n");
            await stack.preview({ expectNoChanges: true });
        } finally {
            await stack.destroy();
        }
        assert.equal(affinity(), before);
    });

    it("two assignments on a host compose as ComposedProfile does: a value meeting a profile's bound, a range covering its range", async function () {
        const server = lab.hosts[0];
        const keys = ["net.core.somaxconn", "net.ipv4.ip_local_port_range"];
        const live = () => keys.map((key) => sysctlOn(lab, server, key));
        const before = live();
        assert.notDeepEqual(before, ["8192", "4096 65535"]);
        const assignments: FleetConfigInput["assignments"] = [
            { select: {}, profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 } },
            { select: { hardware: "server" }, sysctls: { "net.core.somaxconn": 8192, "net.ipv4.ip_local_port_range": [4096, 65535] } },
        ];
        const stack = await fleetStack("fleet-compose", { ...labFleetConfig({ ...lab, hosts: [server] }), assignments });
        try {
            await stack.up();
            assert.deepEqual(live(), ["8192", "4096 65535"], "8192 meets at least 4096; 4096-65535 covers 10240-65535");
            await stack.preview({ expectNoChanges: true });
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(live(), before);
    });

    it("a counter condition in the gate fails a wave whose host keeps overflowing its accept queue", async function () {
        const three = lab.hosts.slice(0, 3);
        // The NIC named by the assignment's facts, not the hosts': IF in a condition is that NIC.
        const counterConditions = [
            { counter: "TcpExt.ListenOverflows", maxPerSecond: 0, windowSeconds: 3 },
            { counter: "link.IF.rx_packets", maxPerSecond: 1e9, windowSeconds: 1 },
        ];
        const config = labFleetConfig({ ...lab, hosts: three });
        const hosts = config.hosts.map((h) => ({ ...h, facts: {} }));
        const assignments = [{ select: {}, profile: "high-connection-rate" as const, facts: { connectionsPerSecond: 20000, interface: "eth1" } }];
        const stack = await fleetStack("fleet-counters", { ...config, hosts, assignments, rollout: { serial: [1, "100%"], counterConditions } });
        // The canary's application listens with a backlog of 4 and accepts slowly, whatever somaxconn says.
        const burst = listenBurst(lab, three[0], 25, ["--backlog", "4"]);
        try {
            const message = await expectFailure(stack.up());
            assert.match(message, /rollout halted: wave 1: halted/);
            assert.match(message, /h1: failed: TcpExt\.ListenOverflows rose \d+(\.\d)?\/s over 3 s \(\d+ in all; limit 0\/s\)\n/);
            untouched(three.slice(1));
            const records = (await stack.outputs()).hosts.value as Record<string, { counters?: Record<string, number>; evidence?: { before: Record<string, number> } }>;
            assert.ok((records.h1.counters?.["TcpExt.ListenOverflows"] ?? 0) > 0);
            assert.equal(typeof records.h1.counters?.["link.eth1.rx_packets"], "number", "the NIC the assignment named was sampled");
            assert.ok((records.h1.evidence?.before["TcpExt.ListenOverflows"] ?? 0) > 0, "the canary's evidence: overflowing before it was tuned");
            assert.equal(records.h2.evidence, undefined, "a held host is not measured");
        } finally {
            await burst;
            await stack.destroy();
        }
        untouched(three);
    });

    it("a host moved to another wave keeps the evidence baseline from before its first apply: the new wave's measurement of the tuned host is no 'before'", async function () {
        const two = lab.hosts.slice(0, 2);
        const config = labFleetConfig({ ...lab, hosts: two });
        const hosts = config.hosts.map((h) => ({ ...h, facts: {} }));
        const assignments = [{ select: {}, profile: "high-connection-rate" as const, facts: { connectionsPerSecond: 20000, interface: "eth1" } }];
        const rollout = { serial: [1, "100%"] };
        const stack = await fleetStack("fleet-moved-host", { ...config, hosts, assignments, rollout });
        type Evidence = Record<string, { wave: number; evidence?: { before: Record<string, number | null>; now: Record<string, number | null> } }>;
        // The canary overflows its accept queue while its baseline is taken.
        const burst = listenBurst(lab, two[0], 12, ["--backlog", "4"]);
        try {
            const first = (await stack.up()).outputs.hosts.value as Evidence;
            await burst;
            const before = first.h1.evidence?.before ?? {};
            assert.equal(first.h1.wave, 1);
            assert.ok((before["TcpExt.ListenOverflows"] ?? 0) > 0, "overflowing before it was tuned");
            // The inventory reordered: h1 is now in the second wave, whose evidence measures it afresh.
            await setFleetConfig(stack, { ...config, hosts: [hosts[1], hosts[0]], assignments, rollout });
            const second = (await stack.up()).outputs.hosts.value as Evidence;
            assert.equal(second.h1.wave, 2);
            assert.deepEqual(second.h1.evidence?.before, before, "still the rates from before its first apply");
            assert.equal(second.h1.evidence?.now["TcpExt.ListenOverflows"], 0, "quiet now, measured by its new wave");
            assert.deepEqual(second.h2.evidence?.before, first.h2.evidence?.before);
        } finally {
            await burst.catch(() => undefined);
            await stack.destroy();
        }
        untouched(two);
    });

    it("a bad stack config fails before any SSH connection, naming the config path", async function () {
        const config = labFleetConfig(lab);
        config.hosts[3] = { ...config.hosts[3], connection: { ...config.hosts[3].connection, host: "h4; rm -rf /" } };
        config.hosts[1] = { ...config.hosts[1], connection: { ...config.hosts[1].connection, port: "22" as never } };
        const before = lab.hosts.map((h) => sshConnectionCount(lab, h));
        const stack = await fleetStack("fleet-bad-config", config);
        const out = collect();
        const message = await expectFailure(stack.preview({ onOutput: out.onOutput }));
        assert.match(message + out.text(), /hosts\[3\]\.connection\.host: must be a host name or an IP address/);
        assert.match(message + out.text(), /hosts\[1\]\.connection\.port: /, "every host's problem, in one preview");
        assert.doesNotMatch(message + out.text(), /Unhandled exception/);
        // A raw spec one assignment gives is checked by its resource's grammar, before any host too, by preview and by up.
        const spec = labFleetConfig(lab);
        spec.assignments = [...spec.assignments, { select: { name: "h4" }, nic: { rings: { rx: -1 } } }, { select: { name: "h5" }, irqs: { cpus: "3-0" } }];
        await setFleetConfig(stack, spec);
        for (const run of [() => stack.preview({ onOutput: out.onOutput }), () => stack.up({ onOutput: out.onOutput })]) {
            const failed = await expectFailure(run());
            assert.match(failed + out.text(), /invalid fleet config \(for h4\):\s+assignments\[1\]\.nic\.rings\.rx: /);
            assert.match(failed + out.text(), /invalid fleet config \(for h5\):\s+assignments\[2\]\.irqs\.cpus: /);
        }
        // A mistyped label value would leave its assignment unapplied, and a mistyped key its gate off: both refused.
        const mistyped = labFleetConfig(lab);
        mistyped.assignments = [...mistyped.assignments, { select: { hardware: "ixgbee" }, sysctls: { "net.core.somaxconn": "8192" } }];
        mistyped.rollout = { ...mistyped.rollout, serial: undefined, waves: [{ select: {} }, { select: { name: "h1" } }] };
        await setFleetConfig(stack, mistyped);
        const unmatched = collect();
        const refused = (await expectFailure(stack.preview({ onOutput: unmatched.onOutput }))) + unmatched.text();
        assert.match(refused, /assignments\[1\]\.select: matches no host \(labels in use: hardware\)/);
        assert.match(refused, /rollout\.waves\[1\]\.select: matches only hosts an earlier wave takes/, "a canary after the wave holding it");
        await setFleetConfig(stack, labFleetConfig(lab));
        await stack.setConfig("pulumi-linux-tuning:rolout", { value: JSON.stringify({ serial: ["100%"] }) });
        const typoOutput = collect();
        const typo = await expectFailure(stack.preview({ onOutput: typoOutput.onOutput }));
        assert.match(typo + typoOutput.text(), /pulumi-linux-tuning:rolout: not a key of the fleet's config; did you mean pulumi-linux-tuning:rollout\?/);
        assert.deepEqual(
            lab.hosts.map((h) => sshConnectionCount(lab, h)),
            before,
            "no host saw an SSH connection",
        );
    });

    it("a host that comes back with a new host key (reinstalled) fails alone: the fleet's preview still runs, and up counts it against the budget", async function () {
        const two = lab.hosts.slice(3, 5);
        const reinstalled = two[1];
        const stack = await fleetStack("fleet-host-key", { ...labFleetConfig({ ...lab, hosts: two }), rollout: { serial: ["100%"], maxFailures: 1, healthCheck: HEALTH_CHECK } });
        let oldKeyBack: (() => Promise<void>) | undefined;
        try {
            await stack.up();
            tuned(two);
            oldKeyBack = await newHostKey(lab, reinstalled);
            const previewed = collect();
            await stack.preview({ onOutput: previewed.onOutput });
            assert.match(previewed.text(), new RegExp(`HostTuning fleet-${reinstalled.name} update`));
            assert.doesNotMatch(previewed.text(), new RegExp(`HostTuning fleet-${two[0].name} update`));
            assert.match(previewed.text(), /HOST KEY MISMATCH/);
            const up = await stack.up();
            const hosts = up.outputs.hosts.value as Record<string, { status: string }>;
            assert.match(hosts[reinstalled.name].status, /^failed: .*HOST KEY MISMATCH/);
            assert.equal(hosts[two[0].name].status, "applied");
            assert.equal((up.outputs.waves.value as { outcome: string }[])[0].outcome, "wave 1: passed: 1 of 2 hosts healthy, 1 failed, budget 1");
            await oldKeyBack();
            oldKeyBack = undefined;
            const resumed = await stack.up();
            assert.equal((resumed.outputs.hosts.value as Record<string, { status: string }>)[reinstalled.name].status, "applied");
        } finally {
            await oldKeyBack?.();
            await stack.destroy();
        }
        untouched(two);
    });

    it("a host unreachable mid-rollout is reported failed and counts against the budget", async function () {
        const three = lab.hosts.slice(5, 8);
        const lost = three[2];
        const stack = await fleetStack("fleet-unreachable", { ...labFleetConfig({ ...lab, hosts: three }), rollout: { serial: [1, "100%"], maxFailures: 1, healthCheck: HEALTH_CHECK } });
        const sshdPid = Number(readFileSync(path.join(lab.dir, "hosts", lost.name, "sshd.pid"), "utf8").trim());
        try {
            const up = await stack.up({
                onEvent: (e) => {
                    // While wave 1's gate runs, the last host of wave 2 goes away.
                    if (e.resourcePreEvent?.metadata.urn.endsWith("::fleet-wave-1")) {
                        process.kill(sshdPid, "SIGKILL");
                    }
                },
            });
            const hosts = up.outputs.hosts.value as Record<string, { status: string }>;
            assert.match(hosts[lost.name].status, /^failed: sysctls: .*(ECONNREFUSED|connect)/);
            const waves = up.outputs.waves.value as { outcome: string }[];
            assert.equal(waves[1].outcome, "wave 2: passed: 1 of 2 hosts healthy, 1 failed, budget 1");
            tuned(three.slice(0, 2));
        } finally {
            await stack.destroy();
        }
        untouched(three.slice(0, 2));
    });
});

describe("a wave gate's verification reads each host now, not a read kept from earlier in the run", function () {
    // kernel.ns_last_pid is the last PID the kernel handed out: every read of it (which forks) finds
    // a new value, so a read kept from earlier shows as the same number twice. Read-only, on this
    // machine through the local transport.
    const parts = { sysctls: { id: "local", state: { settings: { "kernel.ns_last_pid": { atMost: 1 } }, persist: false, onMissing: "fail", resourceName: "gate-read", originals: {}, skipped: [] } } };
    const lastPid = (lines: string[]) => Number(/kernel\.ns_last_pid live (\d+)/.exec(lines.join("\n"))?.[1]);

    it("the gate does not take the refresh's kept read", async function () {
        // As a HostTuning's refresh or diff earlier in the engine run: a read kept for drift reports.
        const kept = lastPid(await verifyParts(undefined, parts, "reuse"));
        assert.equal(lastPid(await verifyParts(undefined, parts, "reuse")), kept, "reuse takes the kept read");
        const { outs } = await judgeWave({ wave: 1, hosts: [{ name: "local", status: "applied", parts }] });
        const verdict = (outs.results as { drifted: string[] }[])[0];
        assert.ok(Number.isInteger(kept) && Number.isInteger(lastPid(verdict.drifted)), verdict.drifted.join("; "));
        assert.notEqual(lastPid(verdict.drifted), kept, "the gate read the host again");
        assert.equal(outs.passed, false);
    });
});

describe("the health check's wrapper, run on this machine through the local transport", function () {
    this.timeout(20_000);
    const check = (fields: Record<string, unknown>) => healthCheckSchema.parse({ timeoutSeconds: 10, ...fields });

    it("gives the command its environment byte for byte and the user's stdin after it", async function () {
        const tricky = `multi\nline 'quoted' "$(touch /nonexistent/x)" trailing\n\n`;
        // Values of 8 characters or more read [secret] in the output: the command prints B's hash.
        // Names a wrapper might use for itself (count, line, value, command, timeout) reach the command as given.
        const environment = { A: "x y", B: tricky, count: "0", line: "l", value: "v", command: "exit 9", timeout: "abc", EMPTY: "" };
        const create = 'printf "[%s]" "$A" "$count" "$line" "$value" "$command" "$timeout" "${EMPTY-unset}"; printf %s "$B" | sha256sum; cat';
        const run = await runHealthCheck(transportFor(undefined), check({ create, environment, stdin: "in\n" }));
        assert.equal(run.exitCode, 0, run.output);
        assert.equal(run.output, `[x y][0][l][v][exit 9][abc][]${createHash("sha256").update(tricky).digest("hex")}  -\nin`);
    });

    it("a child the check leaves in the background does not hold the gate: it ends with the check", async function () {
        // Before, the session stayed open while anything held the check's output: here 60 s, past this test's timeout.
        const run = await runHealthCheck(transportFor(undefined), check({ create: "(sleep 60; echo late) & echo early; exit 3" }));
        assert.deepEqual([run.exitCode, run.output], [3, "early"]);
    });

    it("timeout ends a check that runs too long", async function () {
        const run = await runHealthCheck(transportFor(undefined), check({ create: "echo started; exec sleep 60", timeoutSeconds: 1 }));
        assert.deepEqual([run.exitCode, run.output, run.timedOut], [124, "started", true]);
        const own = await runHealthCheck(transportFor(undefined), check({ create: "exit 124", timeoutSeconds: 5 }));
        assert.deepEqual([own.exitCode, own.timedOut], [124, false], "the check's own 124, long before its time");
    });

    it("retries an attempt that could not run at all, as it retries a failed one", async function () {
        let calls = 0;
        const flaky: Transport = {
            target: "flaky",
            run: async (argv, stdin, options) => {
                calls += 1;
                if (calls === 1) {
                    throw new Error("connect ECONNREFUSED");
                }
                return transportFor(undefined).run(argv, stdin, options);
            },
        };
        const run = await runHealthCheck(flaky, check({ create: "echo ok", retries: 1, retryDelaySeconds: 0 }));
        assert.deepEqual([run.exitCode, run.output, run.attempts], [0, "ok", 2]);
        await assert.rejects(runHealthCheck({ target: "down", run: async () => Promise.reject(new Error("connect ECONNREFUSED")) }, check({ create: "true", retries: 1, retryDelaySeconds: 0 })), /ECONNREFUSED/);
    });

    it("a wrapper stopped by a signal still removes the files that held the check's output", async function () {
        const tmp = mkdtempSync(path.join(os.tmpdir(), "plt-check-"));
        const started = path.join(tmp, "started");
        const outputs = path.join(tmp, "outputs");
        mkdirSync(outputs);
        const { argv } = checkCommand(check({ create: `touch ${started}; exec sleep 60`, timeoutSeconds: 1 }));
        const wrapper = spawn(argv[0], argv.slice(1), { env: { ...process.env, TMPDIR: outputs }, stdio: "ignore" });
        const ended = new Promise<NodeJS.Signals | number | null>((resolve) => wrapper.on("exit", (code, signal) => resolve(signal ?? code)));
        while (!existsSync(started)) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(readdirSync(outputs).length, 2, "the wrapper keeps the check's stdout and stderr in two files");
        wrapper.kill("SIGTERM");
        assert.equal(await ended, 143);
        assert.deepEqual(readdirSync(outputs), []);
        rmSync(tmp, { recursive: true });
    });
});
