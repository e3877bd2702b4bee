import { strict as assert } from "assert";
import { execFile } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { HighConnectionRateProfile, SipRouterProfile, sipRouterPlan, sysctlValues } from "../../components";
import { diagnoseHost, diagnosisText, sampleHost } from "../../components/evidence";
import { CounterEvidence } from "../../provider";
import * as waveEvidence from "../../provider/wave-evidence/handlers";
import { connectionSchema, transportFor } from "../../provider/transport";
import { labStack } from "./engine";
import { assertNoChanges, expectFailure } from "./support";
import { Lab, LabHost, connectionTo, labDown, labUp, listenBurst, netCounter, nicTraffic, onHost, onHostMeanwhile, setSysctlOn, snmp6Counter, sysctlOn, udpBurstOn } from "./lab";

const OVERFLOWS = "TcpExt.ListenOverflows";

describe("evidence: listen overflows before and after HighConnectionRateProfile on a lab host", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let host: LabHost;

    before(function () {
        lab = labUp(1);
        [host] = lab.hosts;
        // A host tuned badly: every listen() backlog capped at 16.
        setSysctlOn(lab, host, "net.core.somaxconn", "16");
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    /** Overflows one 3-second burst causes, counted on the host outside the product. */
    async function overflowsOfABurst(): Promise<number> {
        const start = netCounter(lab, host, OVERFLOWS);
        await listenBurst(lab, host, 3);
        return netCounter(lab, host, OVERFLOWS) - start;
    }

    it("a burst raises ListenOverflows, the diagnosis names somaxconn, and after the profile the same burst raises none; its outputs show before vs now", async function () {
        const untuned = await overflowsOfABurst();
        assert.ok(untuned > 50, `the untuned host overflows (${untuned})`);

        const burst = listenBurst(lab, host, 6);
        const diagnosis = await diagnoseHost(transportFor(connectionSchema.parse(connectionTo(lab, host))), "eth1", 3);
        await burst;
        const finding = diagnosis.findings.find((f) => f.counter === OVERFLOWS);
        assert.ok(finding, JSON.stringify(diagnosis.findings));
        assert.match(finding.knob, /net\.core\.somaxconn/);
        assert.equal(finding.settings["net.core.somaxconn"], "16");

        const stack = await labStack("evidence-hcr", async () => {
            const profile = new HighConnectionRateProfile("hcr", { connection: connectionTo(lab, host), connectionsPerSecond: 20000, evidence: { windowSeconds: 3 } });
            return { before: profile.evidence!.before, now: profile.evidence!.now };
        });
        try {
            // The baseline is measured while the burst runs, before the profile writes anything.
            const during = listenBurst(lab, host, 6);
            const up = await stack.up();
            await during;
            const before = up.outputs.before.value as Record<string, number>;
            assert.ok(before[OVERFLOWS] > 10, `before: ${JSON.stringify(before)}`);
            assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "4096");

            const tuned = await overflowsOfABurst();
            assert.ok(tuned < untuned / 10, `the same burst: ${untuned} overflows untuned, ${tuned} tuned`);

            const again = listenBurst(lab, host, 6);
            const refreshed = await stack.up({ refresh: true });
            await again;
            const now = refreshed.outputs.now.value as Record<string, number>;
            assert.ok(now[OVERFLOWS] < before[OVERFLOWS] / 10, `now ${now[OVERFLOWS]}/s vs before ${before[OVERFLOWS]}/s`);
        } finally {
            await stack.destroy();
        }
        assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "16", "destroy restores the host's own value");
    });

    it("a profile's health gate with a counter condition fails the up while the host overflows, keeps the verdict in state, and passes once the overflows stop", async function () {
        let windowSeconds = 3;
        const stack = await labStack("evidence-gated-profile", async () => {
            const profile = new HighConnectionRateProfile("hcr", {
                connection: connectionTo(lab, host),
                connectionsPerSecond: 20000,
                evidence: false,
                // Port unreachables, which the kernel lists only once one is sent: 0/s, not a counter the host lacks.
                healthGate: { counterConditions: [{ counter: OVERFLOWS, maxPerSecond: 0, windowSeconds }, { counter: "IcmpMsg.OutType3", maxPerSecond: 100, windowSeconds }] },
            });
            return { health: profile.health!.results };
        });
        // The application listens with a backlog of 4 and accepts slowly, whatever somaxconn says.
        const burst = listenBurst(lab, host, 25, ["--backlog", "4"]);
        try {
            const message = await expectFailure(stack.up());
            await burst;
            assert.match(message, /health gate of hcr failed:\s+hcr: failed: TcpExt\.ListenOverflows rose \d+(\.\d)?\/s over 3 s \(\d+ in all; limit 0\/s\)/);
            assert.match(message, /The tuning stays applied/);
            assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "4096", "the profile was applied before it was judged");
            const gate = (await stack.exportStack()).deployment.resources.find((r: { type: string }) => r.type.endsWith("WaveGate"));
            assert.equal(gate?.outputs.passed, false, "the failed verdict is in state");

            const preview = await stack.preview();
            assert.equal(preview.changeSummary.update, 1, "a failed gate is judged again on the next up (and only the gate)");
            const passed = await stack.up();
            const [verdict] = passed.outputs.health.value as { status: string; counters: Record<string, number> }[];
            assert.equal(verdict.status, "applied");
            assert.equal(verdict.counters[OVERFLOWS], 0);
            assert.equal(verdict.counters["IcmpMsg.OutType3"], 0);
            assertNoChanges((await stack.preview()).changeSummary);

            windowSeconds = 1;
            // The gate and the verdict that reads it.
            assert.equal((await stack.preview()).changeSummary.update, 2, "a changed condition judges the host again");
        } finally {
            await burst.catch(() => undefined);
            await stack.destroy();
        }
        assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "16", "destroy restores the host's own value");
    });

    it("a profile's health gate judges the host again after an up that only puts drifted values back", async function () {
        const flag = "/tmp/plt-unhealthy";
        const stack = await labStack("evidence-gate-after-drift", async () => {
            const profile = new HighConnectionRateProfile("hcr", {
                connection: connectionTo(lab, host),
                connectionsPerSecond: 20000,
                evidence: false,
                healthGate: { healthCheck: { create: `test ! -e ${flag}` } },
            });
            return { health: profile.health!.results };
        });
        try {
            await stack.up();
            assertNoChanges((await stack.preview()).changeSummary);

            // The application breaks while someone turns somaxconn back down; the fix rewrites it.
            onHost(lab, host, ["touch", flag]);
            setSysctlOn(lab, host, "net.core.somaxconn", "16");
            const drifted = await stack.preview();
            assert.equal(drifted.changeSummary.update, 3, "the preview shows the drift fix, the gate and its verdict");
            const message = await expectFailure(stack.up());
            assert.match(message, /health gate of hcr failed:\s+hcr: failed: health check exited with status 1/);
            assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "4096", "the drift was fixed before the host was judged");

            onHost(lab, host, ["rm", flag]);
            const [verdict] = (await stack.up()).outputs.health.value as { status: string }[];
            assert.equal(verdict.status, "applied");
            assertNoChanges((await stack.preview()).changeSummary);
        } finally {
            onHost(lab, host, ["rm", "-f", flag]);
            await stack.destroy();
        }
        assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "16", "destroy restores the host's own value");
    });

    it("an IPv6 UDP burst at a slow reader on ::1 raises Udp6.RcvbufErrors as the sampler reads it, the diagnosis points at rmem, and the host's /proc/net/snmp6 agrees", async function () {
        const transport = transportFor(connectionSchema.parse(connectionTo(lab, host)));
        const ipv4Start = netCounter(lab, host, "Udp.RcvbufErrors");
        const start = snmp6Counter(lab, host, "Udp6RcvbufErrors");
        const burst = udpBurstOn(lab, host, ["--address", "::1", "--repeat-for", "5"]);
        const diagnosis = await diagnoseHost(transport, "eth1", 3);
        await burst;
        const rose = snmp6Counter(lab, host, "Udp6RcvbufErrors") - start;
        assert.ok(rose > 1000, `the host dropped ${rose} IPv6 datagrams`);
        assert.ok(diagnosis.rising["Udp6.RcvbufErrors"] > 0, JSON.stringify(diagnosis.rising));
        assert.ok(diagnosis.rising["Udp6.RcvbufErrors"] * 3 <= rose, `the sampler's ${diagnosis.rising["Udp6.RcvbufErrors"]}/s over 3 s is within the host's ${rose}`);
        const finding = diagnosis.findings.find((f) => f.counter === "Udp6.RcvbufErrors");
        assert.ok(finding, JSON.stringify(diagnosis.findings));
        assert.match(finding.knob, /net\.core\.rmem_default \/ net\.core\.rmem_max/);
        assert.equal(finding.settings["net.core.rmem_default"], sysctlOn(lab, host, "net.core.rmem_default"));
        assert.equal(netCounter(lab, host, "Udp.RcvbufErrors"), ipv4Start, "the IPv4 counter did not move: the drops are IPv6's");

        // Quiet now: the sampler's totals are the host's own.
        const sample = await sampleHost(transport, "eth1");
        for (const field of ["RcvbufErrors", "InErrors", "InDatagrams", "SndbufErrors"]) {
            assert.equal(sample.counters[`Udp6.${field}`], snmp6Counter(lab, host, `Udp6${field}`), field);
        }
        assert.ok(!sample.missing.includes("/proc/net/snmp6"), sample.missing.join(", "));
        assert.equal(sample.ifindex, Number(onHost(lab, host, ["cat", "/sys/class/net/eth1/ifindex"]).trim()), "the interface's ifindex, to tell a re-created one");
    });

    it("a counter an update adds counts its rise from the update, not null forever", async function () {
        let counters = [OVERFLOWS];
        const stack = await labStack("evidence-added-counter", async () => {
            const evidence = new CounterEvidence("watch", { connection: connectionTo(lab, host), counters, windowSeconds: 1 });
            return { sinceBaseline: evidence.sinceBaseline };
        });
        try {
            await stack.up();
            counters = [OVERFLOWS, "TcpExt.ListenDrops"];
            const added = (await stack.up()).outputs.sinceBaseline.value as Record<string, number | null>;
            assert.deepEqual(Object.keys(added).sort(), ["TcpExt.ListenDrops", OVERFLOWS].sort(), "the update measured the counters declared now");
            const start = netCounter(lab, host, "TcpExt.ListenDrops");
            await listenBurst(lab, host, 3);
            const rose = netCounter(lab, host, "TcpExt.ListenDrops") - start;
            assert.ok(rose > 0, "the burst drops connections");
            const since = (await stack.up({ refresh: true })).outputs.sinceBaseline.value as Record<string, number | null>;
            assert.ok((since["TcpExt.ListenDrops"] ?? -1) >= rose, `sinceBaseline ${JSON.stringify(since)}, the host counted ${rose}`);
        } finally {
            await stack.destroy();
        }
    });
});

describe("evidence: UDP receive-buffer errors before and after SipRouterProfile on this machine (local transport, loopback)", function () {
    this.timeout(10 * 60 * 1000);
    const RCVBUF = "Udp.RcvbufErrors";
    // net.core.rmem_* are read-only in a lab network namespace, so this runs on the machine itself;
    // destroy must give back every key byte for byte.
    const keys = Object.keys(sysctlValues(sipRouterPlan({ memoryGiB: 8 })));
    const raw = () => Object.fromEntries(keys.map((k) => [k, readFileSync(`/proc/sys/${k.replace(/\./g, "/")}`, "utf8")]));
    const rcvbufErrors = () => {
        const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp: "));
        const names = lines[0].split(/\s+/);
        return Number(lines[1].split(/\s+/)[names.indexOf("RcvbufErrors")]);
    };
    const udpBurst = (repeatFor = 0) =>
        new Promise<void>((resolve, reject) =>
            execFile("python3", [path.resolve(__dirname, "../lab/udp-burst.py"), "--repeat-for", String(repeatFor)], (e) => (e ? reject(e) : resolve())),
        );
    const errorsOfABurst = async () => {
        const start = rcvbufErrors();
        await udpBurst();
        return rcvbufErrors() - start;
    };

    it("a burst at a busy reader drops datagrams; after the profile the same burst drops fewer; destroy restores every key byte for byte", async function () {
        const original = raw();
        const untuned = await errorsOfABurst();
        assert.ok(untuned > 1000, `the untuned machine drops (${untuned})`);

        const stack = await labStack("evidence-sip-local", async () => {
            const profile = new SipRouterProfile("sip-local", { memoryGiB: 8, persist: false, evidence: { windowSeconds: 3 } });
            return { before: profile.evidence!.before, now: profile.evidence!.now };
        });
        try {
            const during = udpBurst(5);
            const up = await stack.up();
            await during;
            const before = up.outputs.before.value as Record<string, number>;
            assert.ok(before[RCVBUF] > 100, `before: ${JSON.stringify(before)}`);

            const tuned = await errorsOfABurst();
            assert.ok(tuned < untuned / 10, `the same burst: ${untuned} dropped untuned, ${tuned} tuned`);

            const again = udpBurst(5);
            const refreshed = await stack.up({ refresh: true });
            await again;
            const now = refreshed.outputs.now.value as Record<string, number>;
            assert.ok(now[RCVBUF] < before[RCVBUF] / 10, `now ${now[RCVBUF]}/s vs before ${before[RCVBUF]}/s`);
        } finally {
            await stack.destroy();
        }
        assert.deepEqual(raw(), original, "every key the profile set is back byte for byte");
    });
});

describe("a wave's evidence refreshed with one host down, on this machine through the local transport", function () {
    this.timeout(30_000);

    it("measures the host it reaches again and keeps the other's record, saying why, instead of failing the refresh", async function () {
        const host = (name: string, connection?: unknown) => ({ name, ...(connection ? { connection } : {}), counters: ["Udp.InDatagrams", "Tcp.OutSegs"] });
        const measured = await waveEvidence.create({ wave: 1, hosts: [host("here")], windowSeconds: 0.2 });
        const record = (measured.outs.evidence as Record<string, Record<string, unknown>>).here;
        assert.ok(record.baseline, JSON.stringify(record));
        const gone = connectionSchema.parse({ host: "127.0.0.1", port: 1, insecureSkipHostKeyCheck: true, dialErrorLimit: 1 });
        const state = { ...measured.outs, hosts: [host("here"), host("gone", gone)], evidence: { here: record, gone: record } };
        const refreshed = (await waveEvidence.read("wave-1", state)).props!.evidence as Record<string, Record<string, unknown>>;
        assert.equal(refreshed.here.lastMeasureFailed, undefined);
        assert.ok(Object.keys(refreshed.here.sinceBaseline as object).length > 0, "measured again: its rise since the baseline");
        assert.match(String(refreshed.gone.lastMeasureFailed), /127\.0\.0\.1:1: .*ECONNREFUSED/);
        assert.deepEqual(refreshed.gone.before, record.before, "kept as it was");
        const back = (await waveEvidence.read("wave-1", { ...state, hosts: [host("here"), host("gone")], evidence: refreshed })).props!.evidence as Record<string, Record<string, unknown>>;
        assert.equal(back.gone.lastMeasureFailed, undefined, "reached again: measured, and the old reason gone");
    });

    it("a host given another address is another machine: its evidence starts afresh, even where the old address was never reached", async function () {
        const host = (connection?: unknown) => ({ name: "h", ...(connection ? { connection } : {}), counters: ["Udp.InDatagrams", "Tcp.OutSegs"] });
        const wrong = connectionSchema.parse({ host: "127.0.0.1", port: 1, insecureSkipHostKeyCheck: true, dialErrorLimit: 1 });
        const first = await waveEvidence.create({ wave: 1, hosts: [host(wrong)], windowSeconds: 0.2, admitted: true });
        const unreached = (first.outs.evidence as Record<string, Record<string, unknown>>).h;
        assert.match(String(unreached.unmeasured), /ECONNREFUSED/);
        const fixed = { wave: 1, hosts: [host()], windowSeconds: 0.2, admitted: true };
        assert.equal((await waveEvidence.diff("wave-1", first.outs, fixed)).changes, true, "the address changed: measure it");
        const measured = ((await waveEvidence.update("wave-1", first.outs, fixed)).outs!.evidence as Record<string, Record<string, unknown>>).h;
        assert.equal(measured.unmeasured, undefined);
        assert.equal(measured.hostId, "local");
        assert.ok(measured.baseline && Object.keys(measured.before as object).length > 0, JSON.stringify(measured));
    });
});

describe("diagnosis on a lab VM whose NIC has one queue pair (virtio1-input.0, virtio1-output.0)", function () {
    this.timeout(5 * 60 * 1000);
    let lab: Lab;
    let vm: LabHost;

    before(function () {
        lab = labUp(1, "vm");
        [vm] = lab.hosts;
    });
    after(function () {
        if (lab) {
            nicTraffic(lab, vm, 0);
            labDown(lab);
        }
    });

    it("with all its interrupts on one CPU points at RPS, since spreading an input and an output IRQ spreads no receive work", async function () {
        for (const irq of [41, 42]) {
            onHost(lab, vm, ["sh", "-c", 'echo 0 > "/proc/irq/$1/smp_affinity_list"', "sh", String(irq)]);
        }
        assert.match(onHost(lab, vm, ["grep", "-E", "^ *4[12]:", "/proc/interrupts"]), /virtio1-input\.0[\s\S]*virtio1-output\.0/);
        nicTraffic(lab, vm, 500);
        const diagnosis = await diagnoseHost(transportFor(connectionSchema.parse(connectionTo(lab, vm))), "eth1", 2);
        const finding = diagnosis.findings.find((f) => f.counter === "irq.eth1.cpu0");
        assert.ok(finding, JSON.stringify(diagnosis.findings));
        assert.match(finding.meaning, /100% of eth1's interrupts land on cpu0/);
        assert.match(finding.knob, /^PacketSteering \(RPS/);
    });

    it("an interface re-created during the window leaves its counters without a rate: the diagnosis says it could not judge, not that nothing rose", async function () {
        onHost(lab, vm, ["ip", "link", "add", "plt0", "type", "veth", "peer", "name", "plt0p"]);
        try {
            const recreate = onHostMeanwhile(lab, vm, ["sh", "-c", "sleep 1; ip link del plt0 && ip link add plt0 type veth peer name plt0p"]);
            const diagnosis = await diagnoseHost(transportFor(connectionSchema.parse(connectionTo(lab, vm))), "plt0", 3);
            assert.equal(await recreate, 0);
            assert.deepEqual(diagnosis.findings, []);
            assert.ok(diagnosis.unjudged.includes("link.plt0.rx_dropped"), JSON.stringify(diagnosis.unjudged));
            assert.match(diagnosis.notes["link.plt0.rx_dropped"], /the interface was re-created between the samples/);
            assert.match(diagnosisText(diagnosis), /: could not judge: \d+ of the counters the diagnosis reads have no rate \(below\) over 3 s\n/);
        } finally {
            onHost(lab, vm, ["sh", "-c", "ip link del plt0 2>/dev/null; true"]);
        }
    });
});
