import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { diagnoseHost, diagnosisText } from "../../components/evidence";
import { diagnose, judgedCounter } from "../../components/evidence/diagnose";
import { extendBaseline, riseSinceBaseline } from "../../provider/counters/handlers";
import { isGauge, parseEthtoolStats, parseProtocolCounters, parseSnmp6, parseSoftnet, queueInterruptsPerCpu } from "../../provider/counters/parse";
import { conditionFailure, counterRates, longestRatedWindow } from "../../provider/counters/rates";
import { counterEvidenceInputsSchema } from "../../provider/counters/schema";
import { UNKNOWN } from "../../provider/unknowns";
import { checkFailures } from "../../provider/check";
import { counterConditionSchema } from "../../provider/wave-gate/schema";
import { waveEvidenceInputsSchema } from "../../provider/wave-evidence/schema";
import { parseFleetConfig } from "../../components/fleet/inventory";
import { Sample, parseSample } from "../../provider/counters/sample";

/**
 * Real output of the sample program (sampleHost's own command), captured on this project's machine
 * (lo) and on lab host h1 (eth1), whose emulated server hardware (tests/lab/hw.py) has 4 CPUs and
 * an MSI-X NIC at 0000:3b:00.0 with queue IRQs 102-105 and a misc vector 101; and on a lab host
 * with the emulated vm hardware (eth1 is virtio1; virtio0 is a disk). The program's @snmp6 section
 * came later: NAME-snmp6.txt is /proc/net/snmp6 captured on the same machine or kind of lab host,
 * and withSnmp6 adds it as the program prints it.
 */
const fixture = (name: string) => readFileSync(path.join(__dirname, "fixtures/counters", name), "utf8");
const withSnmp6 = (name: string) => `${fixture(`${name}.txt`)}@snmp6\n${fixture(`${name}-snmp6.txt`)}`;

const sample = (uptimeSeconds: number, counters: Record<string, number>): Sample => ({ uptimeSeconds, counters, gauges: {}, missing: [] });

/** An interface's queue IRQs 30, 31, … per CPU as a sample has them: each IRQ's count (`irq.IF.cpuN.irqK`) and their sum (`irq.IF.cpuN`). */
const queueIrqs = (iface: string, perCpu: Record<string, number[]>): Record<string, number> =>
    Object.fromEntries(
        Object.entries(perCpu).flatMap(([cpu, counts]) => [
            [`irq.${iface}.${cpu}`, counts.reduce((a, b) => a + b, 0)],
            ...counts.map((count, i) => [`irq.${iface}.${cpu}.irq${30 + i}`, count]),
        ]),
    );

describe("counters: parsing the kernel's files", function () {
    it("reads a sample taken on the machine itself", function () {
        const s = parseSample(withSnmp6("machine"), "lo");
        assert.ok(s.uptimeSeconds > 0);
        for (const name of ["TcpExt.ListenOverflows", "TcpExt.ListenDrops", "Udp.RcvbufErrors", "Udp.InErrors", "Tcp.RetransSegs", "softnet.dropped", "softnet.time_squeeze", "link.lo.rx_dropped", "Udp6.RcvbufErrors", "Udp6.InErrors"]) {
            assert.equal(typeof s.counters[name], "number", name);
        }
        assert.equal(s.counters["Tcp.CurrEstab"], undefined, "a level, not a counter");
        assert.equal(typeof s.gauges["Tcp.CurrEstab"], "number");
        assert.equal(typeof s.gauges["sockstat.TCP.inuse"], "number");
        assert.match(s.bootId ?? "", /^[0-9a-f-]{36}$/);
        assert.deepEqual(
            Object.keys(s.counters).filter((k) => k.startsWith("irq.")),
            [],
            "the machine's virtio NIC interrupts are not lo's",
        );
        assert.deepEqual(s.missing, ["/proc/interrupts (no queue IRQ of lo)", "ethtool -S lo"]);
    });

    it("reads a sample taken on a lab host: eth1's queue IRQs per CPU from its MSI vectors, not its misc vector", function () {
        const s = parseSample(withSnmp6("lab-host"), "eth1");
        assert.equal(typeof s.counters["TcpExt.ListenOverflows"], "number");
        const irq = Object.fromEntries(Object.entries(s.counters).filter(([k]) => /^irq\.eth1\.cpu\d+$/.test(k)));
        assert.deepEqual(irq, { "irq.eth1.cpu0": 18213, "irq.eth1.cpu1": 18310, "irq.eth1.cpu2": 18407, "irq.eth1.cpu3": 18504 }, "IRQ 101's 3 on CPU0 are not a queue's");
        const queueIrqs = new Set(Object.keys(s.counters).map((k) => /^irq\.eth1\.cpu\d+\.irq(\d+)$/.exec(k)?.[1]).filter((n) => n !== undefined));
        assert.deepEqual([...queueIrqs], ["102", "103", "104", "105"]);
        assert.equal(typeof s.counters["link.eth1.rx_packets"], "number");
        assert.deepEqual(s.missing, []);
        assert.equal(s.ifindex, undefined, "captured before the ifindex was sampled");
        assert.equal(parseSample(withSnmp6("lab-host").replace("@msi\n", "@ifindex\n7\n@msi\n"), "eth1").ifindex, 7);
    });

    it("reads a sample taken on a virtio lab host: eth1's virtio1 queues, not the virtio disk's, its output queue's as transmit-only", function () {
        const s = parseSample(withSnmp6("lab-vm-host"), "eth1");
        assert.deepEqual(Object.fromEntries(Object.entries(s.counters).filter(([k]) => k.startsWith("irq."))), {
            "irq.eth1.cpu0": 19283,
            "irq.eth1.cpu0.irq41": 0,
            "irq.eth1.cpu0.txirq42": 19283,
            "irq.eth1.cpu1": 20897,
            "irq.eth1.cpu1.irq41": 20897,
            "irq.eth1.cpu1.txirq42": 0,
        });
        assert.deepEqual(s.missing, []);
    });

    it("names /proc/net/snmp6's counters as the IPv4 ones are named, from real captures", function () {
        for (const name of ["machine", "lab-host", "lab-vm-host"]) {
            const text = fixture(`${name}-snmp6.txt`);
            const counters = parseSnmp6(text);
            assert.equal(Object.keys(counters).length, text.trim().split("\n").length, `${name}: every line is a counter`);
            for (const counter of ["Ip6.InReceives", "Ip6.InDiscards", "Icmp6.InMsgs", "Udp6.RcvbufErrors", "Udp6.SndbufErrors", "Udp6.InErrors", "UdpLite6.InErrors"]) {
                assert.equal(typeof counters[counter], "number", `${name}: ${counter}`);
            }
            assert.deepEqual(Object.keys(counters).filter((c) => !/^(Ip6|Icmp6|Udp6|UdpLite6)\.[A-Z]\w+$/.test(c)), [], name);
            assert.deepEqual(Object.keys(counters).filter(isGauge), [], `${name}: no level among them`);
        }
        const machine = parseSnmp6(fixture("machine-snmp6.txt"));
        assert.equal(machine["Ip6.InReceives"], 13137);
        assert.equal(machine["Icmp6.OutType133"], 5204, "a per-type ICMPv6 line");
        assert.equal(parseSample(withSnmp6("machine"), "lo").counters["Icmp6.OutType133"], 5204);
    });

    it("lists /proc/net/snmp6 as missing on a host without IPv6, and has no Udp6 counter there", function () {
        const s = parseSample(fixture("machine.txt").replace(/@sockstat/, "@snmp6\n@sockstat"), "lo");
        assert.ok(s.missing.includes("/proc/net/snmp6"), s.missing.join(", "));
        assert.equal(s.counters["Udp6.RcvbufErrors"], undefined);
        assert.equal(typeof s.counters["Udp.RcvbufErrors"], "number");
    });

    it("pairs snmp header and value lines, and sums softnet_stat per column", function () {
        assert.deepEqual(parseProtocolCounters("Udp: InDatagrams RcvbufErrors\nUdp: 10 3\nTcpExt: ListenOverflows\nTcpExt: 7\n"), { "Udp.InDatagrams": 10, "Udp.RcvbufErrors": 3, "TcpExt.ListenOverflows": 7 });
        assert.deepEqual(parseProtocolCounters("Ip: A B\nIp: 1 2\nBogus: x\nTcp: C D\nTcp: 3 4\n"), { "Ip.A": 1, "Ip.B": 2, "Tcp.C": 3, "Tcp.D": 4 }, "a line without its pair loses no group after it");
        const softnet = parseSoftnet("0000000a 00000001 00000002 0 0 0 0 0 0 0 0 0 00000000\n00000005 00000000 00000003 0 0 0 0 0 0 0 0 0 00000002\n");
        assert.equal(softnet["softnet.time_squeeze"], 5);
        assert.equal(softnet["softnet.cpu2.time_squeeze"], 3, "the CPU id column, not the row");
        // Before 5.10: 11 columns, one row per online CPU, so with CPU 1 offline the second row is CPU 2.
        const old = "0000000a 00000001 00000002 0 0 0 0 0 0 0 0\n00000005 00000000 00000003 0 0 0 0 0 0 0 0\n";
        assert.equal(parseSoftnet(old, [0, 2])["softnet.cpu2.time_squeeze"], 3);
        assert.equal(parseSoftnet(old, [0, 2])["softnet.cpu1.time_squeeze"], undefined);
        const unnamed = parseSoftnet(old, [0, 1, 2]);
        assert.deepEqual(Object.keys(unnamed).filter((k) => k.includes(".cpu")), [], "no row named when the online list does not match the rows");
        assert.equal(unnamed["softnet.time_squeeze"], 5);
        assert.deepEqual(parseEthtoolStats("NIC statistics:\n     rx_missed_errors: 12\n     rx_queue_0_drops: 3\n", "ens1"), { "nic.ens1.rx_missed_errors": 12, "nic.ens1.rx_queue_0_drops": 3 });
    });

    it("counts an interface's own queue IRQs per CPU, whatever the driver calls them, and no other NIC's", function () {
        const interrupts = [
            "            CPU0       CPU1",
            "  30:        100          2  PCI-MSIX-0000:3b:00.0   1-edge      i40e-eth1-TxRx-0",
            "  31:          1          0  PCI-MSIX-0000:3b:00.0   2-edge      i40e-eth1-TxRx-1",
            "  32:        500        500  PCI-MSIX-0000:3c:00.0   1-edge      i40e-eth10-TxRx-0",
            "  33:          7          0  PCI-MSIX-0000:3d:00.0   1-edge      ice-eth2-TxRx-0",
            "  40:          9          9  PCI-MSIX-0000:5e:00.0   1-edge      nvme0q1",
            "  50:          4          0  PCI-MSIX-0000:af:00.0   0-edge      mlx5_async0@pci:0000:af:00.0",
            "  51:         60          1  PCI-MSIX-0000:af:00.0   1-edge      mlx5_comp0@pci:0000:af:00.0",
            "  52:          3         70  PCI-MSIX-0000:af:00.0   2-edge      mlx5_comp1@pci:0000:af:00.0",
            "  53:        800        800  PCI-MSIX-0000:b0:00.0   1-edge      mlx5_comp0@pci:0000:b0:00.0",
            "",
        ].join("\n");
        const vm = [
            "            CPU0       CPU1",
            "  60:          0          0  PCI-MSIX-0000:00:03.0   0-edge      virtio1-config",
            "  61:       1000          5  PCI-MSIX-0000:00:03.0   1-edge      virtio1-input.0",
            "  62:         10          0  PCI-MSIX-0000:00:03.0   2-edge      virtio1-output.0",
            "  63:          0          0  PCI-MSIX-0000:00:04.0   0-edge      virtio2-config",
            "  64:          2        300  PCI-MSIX-0000:00:04.0   1-edge      virtio2-input.0",
            "",
        ].join("\n");
        // Each queue IRQ's own count on a CPU beside their sum there.
        const perCpu = (counters: Record<string, number>) => Object.fromEntries(Object.entries(counters).filter(([k]) => /\.cpu\d+$/.test(k)));
        assert.deepEqual(
            queueInterruptsPerCpu(interrupts, "eth1", undefined, "0000:3b:00.0"),
            { "irq.eth1.cpu0": 101, "irq.eth1.cpu0.irq30": 100, "irq.eth1.cpu0.irq31": 1, "irq.eth1.cpu1": 2, "irq.eth1.cpu1.irq30": 2, "irq.eth1.cpu1.irq31": 0 },
            "i40e, not eth10's",
        );
        assert.deepEqual(perCpu(queueInterruptsPerCpu(interrupts, "eth2", undefined, "0000:3d:00.0")), { "irq.eth2.cpu0": 7, "irq.eth2.cpu1": 0 }, "ice");
        assert.deepEqual(perCpu(queueInterruptsPerCpu(interrupts, "ens5f0", [50, 51, 52], "0000:af:00.0")), { "irq.ens5f0.cpu0": 63, "irq.ens5f0.cpu1": 71 }, "mlx5: its own completion vectors, not the async one nor the other port's");
        assert.deepEqual(perCpu(queueInterruptsPerCpu(vm, "eth0", [60, 61, 62], "virtio1")), { "irq.eth0.cpu0": 1010, "irq.eth0.cpu1": 5 }, "the first virtio NIC");
        assert.deepEqual(perCpu(queueInterruptsPerCpu(vm, "eth1", undefined, "virtio2")), { "irq.eth1.cpu0": 2, "irq.eth1.cpu1": 300 }, "the second virtio NIC, found by its device without msi_irqs");
        assert.deepEqual(queueInterruptsPerCpu(interrupts, "lo", undefined, undefined), {}, "lo has no queue IRQs: no mlx5's");
        assert.deepEqual(queueInterruptsPerCpu(vm, "lo", undefined, undefined), {}, "nor a virtio NIC's");
    });

    it("lists /proc/interrupts as missing for an interface with no queue IRQ, though the file was read", function () {
        const s = parseSample("@interrupts\n            CPU0       CPU1\n  61:       1000          5  PCI-MSIX-0000:00:03.0   1-edge      virtio1-input.0\n@link\nrx_packets 3\n@ethtool\n", "veth0");
        assert.deepEqual(Object.keys(s.counters).filter((k) => k.startsWith("irq.")), []);
        assert.ok(s.missing.includes("/proc/interrupts (no queue IRQ of veth0)"), s.missing.join(", "));
    });
});

describe("counters: rates between samples", function () {
    it("gives per-second rates, and refuses a counter that went backwards or a reboot", function () {
        const rates = counterRates(sample(100, { a: 10, reset: 5000, fresh: 1 }), sample(110, { a: 60, reset: 3, fresh: 2, added: 4 }));
        assert.deepEqual(rates.a, { delta: 50, perSecond: 5 });
        assert.match(rates.reset.note ?? "", /went backwards \(5000 → 3\): reset/);
        assert.equal(rates.reset.perSecond, null);
        assert.match(rates.added.note ?? "", /not in the earlier sample/);
        const rebooted = counterRates(sample(5000, { a: 900 }), sample(40, { a: 3 }));
        assert.match(rebooted.a.note ?? "", /rebooted/);
    });

    it("notices a real counter going backwards between two real samples", function () {
        const before = parseSample(fixture("lab-host.txt"), "eth1");
        const after = parseSample(fixture("lab-host.txt"), "eth1");
        after.uptimeSeconds += 10;
        after.counters["link.eth1.rx_packets"] = 0; // the interface was re-created: its statistics restart
        after.counters["TcpExt.ListenOverflows"] += 30;
        const rates = counterRates(before, after);
        assert.equal(rates["link.eth1.rx_packets"].perSecond, null);
        assert.match(rates["link.eth1.rx_packets"].note ?? "", /went backwards/);
        assert.equal(rates["TcpExt.ListenOverflows"].perSecond, 3);
    });

    it("rates a softnet total by itself when the earlier sample named no CPU's row (before 5.10, the online CPU list did not match the rows)", function () {
        const perCpu = sample(110, { "softnet.dropped": 160, "softnet.cpu0.dropped": 100, "softnet.cpu1.dropped": 60 });
        assert.deepEqual(counterRates(sample(100, { "softnet.dropped": 100 }), perCpu)["softnet.dropped"], { delta: 60, perSecond: 6 });
        const reset = counterRates(sample(100, { "softnet.dropped": 500 }), perCpu)["softnet.dropped"];
        assert.equal(reset.perSecond, null);
        assert.match(reset.note ?? "", /went backwards \(500 → 160\): reset/);
    });

    it("takes a 32-bit count that went down for a reset, not a wrap, when the wrap would need a rate no CPU reaches", function () {
        const rates = counterRates(
            sample(100, { "softnet.processed": 3000000010, "softnet.cpu0.processed": 3000000000, "softnet.cpu1.processed": 10, ...queueIrqs("eth1", { cpu0: [3000000000, 7] }) }),
            sample(103, { "softnet.processed": 520, "softnet.cpu0.processed": 500, "softnet.cpu1.processed": 20, ...queueIrqs("eth1", { cpu0: [500, 10] }) }),
        );
        for (const name of ["irq.eth1.cpu0.irq30", "softnet.cpu0.processed"]) {
            assert.deepEqual(rates[name], { delta: null, perSecond: null, note: "went backwards (3000000000 → 500): reset" }, name);
        }
        assert.equal(rates["irq.eth1.cpu0"].perSecond, null);
        assert.equal(rates["softnet.processed"].perSecond, null);
    });

    it("judges a counter condition on the window's rate", function () {
        const rates = counterRates(sample(0, { "Udp.RcvbufErrors": 0 }), sample(60, { "Udp.RcvbufErrors": 1200 }));
        assert.equal(conditionFailure({ counter: "Udp.RcvbufErrors", maxPerSecond: 10, windowSeconds: 60 }, rates), "Udp.RcvbufErrors rose 20.0/s over 60 s (1200 in all; limit 10/s)");
        assert.equal(conditionFailure({ counter: "Udp.RcvbufErrors", maxPerSecond: 30, windowSeconds: 60 }, rates), undefined);
        assert.match(conditionFailure({ counter: "Nope.Missing", maxPerSecond: 0, windowSeconds: 1 }, rates) ?? "", /does not report it/);
    });

    it("fails a condition it cannot judge: a counter that went backwards or a host that rebooted in the window is no proof of health", function () {
        const condition = { counter: "TcpExt.ListenOverflows", maxPerSecond: 0, windowSeconds: 3 };
        const reset = counterRates(sample(100, { "TcpExt.ListenOverflows": 5000 }), sample(103, { "TcpExt.ListenOverflows": 3 }));
        assert.equal(conditionFailure(condition, reset), "TcpExt.ListenOverflows: no rate over the window (went backwards (5000 → 3): reset); cannot judge the limit 0/s");
        const rebooted = counterRates(sample(5000, { "TcpExt.ListenOverflows": 900 }), sample(2, { "TcpExt.ListenOverflows": 0 }));
        assert.match(conditionFailure(condition, rebooted) ?? "", /no rate over the window \(the host rebooted between the samples\)/);
    });
});

describe("counters: rise since the baseline", function () {
    const base = { uptimeSeconds: 5000, bootId: "0b7c5c8e-0000-4000-8000-000000000001", totals: { "TcpExt.ListenOverflows": 100, "Udp.RcvbufErrors": null } };
    const later = (uptimeSeconds: number, bootId: string | undefined, overflows: number): Sample => ({ ...sample(uptimeSeconds, { "TcpExt.ListenOverflows": overflows, "Udp.RcvbufErrors": 4 }), ...(bootId ? { bootId } : {}) });
    const counters = ["TcpExt.ListenOverflows", "Udp.RcvbufErrors"];

    it("refuses a level (Tcp.CurrEstab, sockstat) as evidence, whose rate would always be null", function () {
        const failures = (counters: string[]) => counterEvidenceInputsSchema.safeParse({ resourceName: "e", counters }).error?.issues.map((i) => i.message) ?? [];
        assert.deepEqual(failures(["Tcp.CurrEstab"]), ["is a level, not a counter: a rate over a window does not apply to it"]);
        assert.deepEqual(failures(["sockstat.TCP.inuse"]).length, 1);
        assert.deepEqual(failures(["Tcp.RetransSegs"]), []);
    });

    it("refuses a counter of a NIC other than the one sampled, or of any NIC when none is given", function () {
        const failures = (counters: string[], iface?: string) => checkFailures(counterEvidenceInputsSchema, { resourceName: "e", counters, ...(iface ? { interface: iface } : {}) }).map((f) => [f.property, f.reason]);
        assert.deepEqual(failures(["link.eth1.rx_dropped", "link.eth2.rx_dropped", "irq.eth1.cpu0", "nic.IF.rx_missed_errors"], "eth1"), [
            ["counters[1]", "link.eth2.rx_dropped names a NIC other than eth1, the one sampled"],
            ["counters[3]", "nic.IF.rx_missed_errors names a NIC other than eth1, the one sampled"],
        ]);
        assert.deepEqual(failures(["irq.eth1.cpu0"]), [["counters[0]", "irq.eth1.cpu0 names a NIC, and no interface is given to sample"]]);
        assert.deepEqual(failures(["Udp.RcvbufErrors", "softnet.dropped"]), []);
        assert.deepEqual(failures(["link.eth1.rx_dropped"], UNKNOWN), [], "an interface known only at apply is judged then");
    });

    it("is the growth of each counter on the same boot", function () {
        assert.deepEqual(riseSinceBaseline(counters, base, later(9000, base.bootId, 160)), { "TcpExt.ListenOverflows": 60, "Udp.RcvbufErrors": null });
    });

    it("is unknown after a reboot the uptime does not show: another boot id, the host up longer than at the baseline", function () {
        assert.deepEqual(riseSinceBaseline(counters, base, later(90000, "0b7c5c8e-0000-4000-8000-000000000002", 400)), { "TcpExt.ListenOverflows": null, "Udp.RcvbufErrors": null });
    });

    it("is unknown for an interface's counters once it was re-created (another ifindex: a driver reload restarted them), and in a window across it", function () {
        const watched = ["TcpExt.ListenOverflows", "link.eth1.rx_dropped", "nic.eth1.rx_queue_0_drops", "irq.eth1.cpu1"];
        const at = (uptimeSeconds: number, ifindex: number, value: number): Sample => ({ ...sample(uptimeSeconds, Object.fromEntries(watched.map((c) => [c, value]))), bootId: base.bootId, ifindex });
        const baseline = { uptimeSeconds: 5000, bootId: base.bootId, ifindex: 4, totals: Object.fromEntries(watched.map((c) => [c, 5000])) };
        assert.deepEqual(riseSinceBaseline(watched, baseline, at(9000, 4, 6000)), Object.fromEntries(watched.map((c) => [c, 1000])));
        assert.deepEqual(riseSinceBaseline(watched, baseline, at(9000, 9, 6000)), { "TcpExt.ListenOverflows": 1000, "link.eth1.rx_dropped": null, "nic.eth1.rx_queue_0_drops": null, "irq.eth1.cpu1": null });
        const { ifindex, ...older } = baseline;
        assert.equal(ifindex, 4);
        assert.equal(riseSinceBaseline(watched, older, at(9000, 9, 6000))["link.eth1.rx_dropped"], 1000, "a baseline from before ifindex was sampled cannot tell");
        const rates = counterRates(at(100, 4, 5000), at(105, 9, 6000));
        assert.deepEqual(rates["TcpExt.ListenOverflows"], { delta: 1000, perSecond: 200 });
        assert.deepEqual(rates["link.eth1.rx_dropped"], { delta: null, perSecond: null, note: "the interface was re-created between the samples (ifindex 4 → 9): its counters restarted" });
    });

    it("falls back to a smaller uptime for a baseline recorded before boot ids were sampled", function () {
        const old = { uptimeSeconds: base.uptimeSeconds, totals: base.totals };
        assert.equal(riseSinceBaseline(counters, old, later(40, base.bootId, 400))["TcpExt.ListenOverflows"], null);
        assert.equal(riseSinceBaseline(counters, old, later(9000, base.bootId, 400))["TcpExt.ListenOverflows"], 300);
    });

    it("counts a counter added by an update from when it was added; the others keep their baseline", function () {
        const added = [...counters, "Tcp.RetransSegs"];
        const extended = extendBaseline(base, added, { ...later(6000, base.bootId, 130), counters: { "TcpExt.ListenOverflows": 130, "Tcp.RetransSegs": 70 } });
        assert.deepEqual(extended.totals, { "TcpExt.ListenOverflows": 100, "Udp.RcvbufErrors": null, "Tcp.RetransSegs": 70 });
        const end = { ...later(9000, base.bootId, 160), counters: { "TcpExt.ListenOverflows": 160, "Udp.RcvbufErrors": 4, "Tcp.RetransSegs": 75 } };
        assert.deepEqual(riseSinceBaseline(added, extended, end), { "TcpExt.ListenOverflows": 60, "Udp.RcvbufErrors": null, "Tcp.RetransSegs": 5 });
    });

    it("gives a counter the host lacked at the baseline its total at the next update that finds it", function () {
        const extended = extendBaseline(base, counters, later(6000, base.bootId, 130));
        assert.deepEqual(extended.totals, { "TcpExt.ListenOverflows": 100, "Udp.RcvbufErrors": 4 });
        const end = { ...later(9000, base.bootId, 160), counters: { "TcpExt.ListenOverflows": 160, "Udp.RcvbufErrors": 9 } };
        assert.deepEqual(riseSinceBaseline(counters, extended, end), { "TcpExt.ListenOverflows": 60, "Udp.RcvbufErrors": 5 });
    });
});

describe("counters: diagnosis", function () {
    it("refuses a window that is not a positive number of seconds, or longer than softnet's counters can be rated over, before contacting the host", async function () {
        let commands = 0;
        const transport = { target: "h1", run: async () => (commands++, { code: 0, stdout: "", stderr: "" }) };
        for (const window of [NaN, -3, 0, Infinity, 401, 3600]) {
            await assert.rejects(diagnoseHost(transport, undefined, window), /window: .* is not a number of seconds from 0\.1 to 400 \(softnet's per-CPU counts are 32-bit/);
        }
        assert.equal(commands, 0);
    });

    it("refuses an interface that is not a name, before contacting the host, and one the host does not have, instead of an all-clear", async function () {
        let commands = 0;
        const noSuchInterface = fixture("lab-host.txt").replace(/@link\n[^@]*@ethtool\n[\s\S]*$/, "@link\n@ethtool\n");
        const transport = {
            target: "h1",
            run: async (argv: readonly string[]) => (commands++, { code: 0, stdout: argv.includes("pulumi-counters") ? noSuchInterface : "", stderr: "" }),
        };
        await assert.rejects(diagnoseHost(transport, "eth1;id", 1), /interface: "eth1;id" is not a network interface name/);
        assert.equal(commands, 0);
        await assert.rejects(diagnoseHost(transport, "eht1", 0.1), /^Error: h1: interface eht1 does not exist \(no \/sys\/class\/net\/eht1\/statistics\)$/);
    });

    it("the text report says which counters it could not rate (reset, reboot) instead of a bare all-clear", function () {
        const base = { target: "h1", windowSeconds: 3, rising: {}, findings: [], missing: [], unjudged: [] };
        assert.equal(diagnosisText({ ...base, notes: {} }), "h1: no drop or overflow counter rose over 3 s");
        const reset = diagnosisText({ ...base, notes: { "nic.eth1.rx_missed_errors": "went backwards (900 → 2): reset" }, unjudged: ["nic.eth1.rx_missed_errors"] });
        assert.match(reset, /^h1: could not judge: 1 of the counters the diagnosis reads have no rate \(below\) over 3 s\n {2}no rate \(cannot tell whether it rose\): nic\.eth1\.rx_missed_errors went backwards \(900 → 2\): reset$/);
        const quietBesides = diagnosisText({ ...base, notes: { "Tcp.InSegs": "went backwards (9 → 2): reset" } });
        assert.match(quietBesides, /^h1: no drop or overflow counter rose over 3 s\n/, "a counter no rule reads does not cloud the verdict");
        const rebooted = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`c${i}`, "the host rebooted between the samples"]));
        const text = diagnosisText({ ...base, notes: rebooted, unjudged: ["c1"] });
        assert.equal(text.split("\n").length, 2, text);
        assert.match(text, /^h1: could not judge/);
        assert.match(text, /no rate \(cannot tell whether it rose\): 40 counters: the host rebooted between the samples$/);
        assert.deepEqual(["TcpExt.ListenOverflows", "link.eth1.rx_dropped", "nic.eth1.rx_missed_errors", "irq.eth1.cpu0", "softnet.time_squeeze", "Tcp.InSegs", "irq.eth1.cpu0.irq38"].filter(judgedCounter), [
            "TcpExt.ListenOverflows",
            "link.eth1.rx_dropped",
            "nic.eth1.rx_missed_errors",
            "irq.eth1.cpu0",
            "softnet.time_squeeze",
        ]);
    });

    it("points each rising counter at its knob, with the current value and sources", function () {
        const rates = counterRates(
            sample(0, { "TcpExt.ListenOverflows": 0, "Udp.RcvbufErrors": 0, "Tcp.RetransSegs": 0, "Tcp.OutSegs": 0, ...queueIrqs("eth1", { cpu0: [0, 0], cpu1: [0, 0] }) }),
            sample(10, { "TcpExt.ListenOverflows": 500, "Udp.RcvbufErrors": 0, "Tcp.RetransSegs": 5, "Tcp.OutSegs": 100000, ...queueIrqs("eth1", { cpu0: [30000, 20000], cpu1: [10, 0] }) }),
        );
        const findings = diagnose(rates, { "net.core.somaxconn": "16" });
        assert.deepEqual(
            findings.map((f) => f.counter),
            ["irq.eth1.cpu0", "TcpExt.ListenOverflows"],
            "retransmits at 0.005% of segments are background, not a finding",
        );
        const overflow = findings[1];
        assert.match(overflow.knob, /net\.core\.somaxconn/);
        assert.deepEqual(overflow.settings, { "net.core.somaxconn": "16" });
        assert.ok(overflow.sources.some((s) => s.startsWith("IPS https://docs.kernel.org/networking/ip-sysctl.html")));
        assert.match(findings[0].knob, /IrqAffinity/);
    });

    it("points IPv6 UDP buffer errors at the same knobs and sources as IPv4's", function () {
        const udp = ["RcvbufErrors", "InErrors", "SndbufErrors"];
        const counters = udp.flatMap((field) => [`Udp.${field}`, `Udp6.${field}`]);
        const rates = counterRates(sample(0, Object.fromEntries(counters.map((c) => [c, 0]))), sample(10, Object.fromEntries(counters.map((c) => [c, 100]))));
        const findings = diagnose(rates, { "net.core.rmem_default": "212992", "net.core.wmem_default": "212992" });
        const byCounter = Object.fromEntries(findings.map(({ counter, ...rest }) => [counter, rest]));
        assert.deepEqual(Object.keys(byCounter).sort(), counters.filter((c) => !c.endsWith("InErrors")).sort(), "InErrors rising with RcvbufErrors is the same drops: one finding");
        for (const field of udp) {
            assert.deepEqual(byCounter[`Udp6.${field}`], byCounter[`Udp.${field}`], field);
        }
        assert.match(byCounter["Udp6.RcvbufErrors"].knob, /net\.core\.rmem_default \/ net\.core\.rmem_max \(or SO_RCVBUF/);
        assert.deepEqual(byCounter["Udp6.RcvbufErrors"].settings, { "net.core.rmem_default": "212992" });
        assert.deepEqual(byCounter["Udp6.RcvbufErrors"].sources.map((s) => s.split(" ")[0]), ["NDUDP", "SIPCONF"]);
        assert.match(byCounter["Udp6.SndbufErrors"].knob, /net\.core\.wmem_default/);
    });

    it("names InErrors and ListenDrops only for what they count beyond the buffer, checksum and overflow counters they include", function () {
        const at = (t: number, values: Record<string, number>) => sample(t, values);
        const rates = counterRates(
            at(0, { "Udp.InErrors": 0, "Udp.RcvbufErrors": 0, "Udp.InCsumErrors": 0, "TcpExt.ListenOverflows": 0, "TcpExt.ListenDrops": 0 }),
            at(10, { "Udp.InErrors": 100, "Udp.RcvbufErrors": 0, "Udp.InCsumErrors": 100, "TcpExt.ListenOverflows": 50, "TcpExt.ListenDrops": 80 }),
        );
        const findings = Object.fromEntries(diagnose(rates).map((f) => [f.counter, f]));
        assert.deepEqual(Object.keys(findings).sort(), ["TcpExt.ListenDrops", "TcpExt.ListenOverflows", "Udp.InCsumErrors"]);
        assert.match(findings["Udp.InCsumErrors"].knob, /no sysctl/);
        assert.match(findings["TcpExt.ListenDrops"].knob, /tcp_max_syn_backlog/);
        const memory = counterRates(at(0, { "Udp.InErrors": 0, "Udp.RcvbufErrors": 0 }), at(10, { "Udp.InErrors": 100, "Udp.RcvbufErrors": 20 }));
        assert.match(diagnose(memory).find((f) => f.counter === "Udp.InErrors")?.knob ?? "", /udp_mem/, "drops beyond full buffers, on a kernel without MemErrors: memory");
        assert.equal(diagnose(memory).find((f) => f.counter === "Udp.InErrors")?.perSecond, 8, "the rate beyond RcvbufErrors (10/s - 2/s), not the whole");
        assert.equal(findings["TcpExt.ListenDrops"].perSecond, 3, "8/s, of which 5/s are the overflows");
        // One datagram of skew between the two reads of a burst: no finding of its own, and nothing above the real one.
        const burst = counterRates(at(0, { "Udp.InErrors": 0, "Udp.RcvbufErrors": 0 }), at(3, { "Udp.InErrors": 30001, "Udp.RcvbufErrors": 30000 }));
        assert.deepEqual(diagnose(burst).map((f) => f.counter), ["Udp.RcvbufErrors"]);
    });

    it("points UDP memory-limit drops (MemErrors) at udp_mem, and then InErrors, which counts them too, adds no finding of its own", function () {
        const before = { "Udp6.InErrors": 0, "Udp6.RcvbufErrors": 0, "Udp6.MemErrors": 0, "Udp.InErrors": 0, "Udp.MemErrors": 0 };
        const rates = counterRates(sample(0, before), sample(10, { "Udp6.InErrors": 300, "Udp6.RcvbufErrors": 100, "Udp6.MemErrors": 200, "Udp.InErrors": 50, "Udp.MemErrors": 20 }));
        const findings = Object.fromEntries(diagnose(rates, { "net.ipv4.udp_mem": "45996\t61330\t91992" }).map((f) => [f.counter, f]));
        assert.deepEqual(Object.keys(findings).sort(), ["Udp.InErrors", "Udp.MemErrors", "Udp6.MemErrors", "Udp6.RcvbufErrors"]);
        assert.match(findings["Udp6.MemErrors"].knob, /^net\.ipv4\.udp_mem/);
        assert.deepEqual(findings["Udp6.MemErrors"].settings, { "net.ipv4.udp_mem": "45996\t61330\t91992" });
        assert.match(findings["Udp.InErrors"].meaning, /socket filter/, "3/s beyond the 2/s MemErrors counted");
        assert.match(findings["Udp6.MemErrors"].meaning, /above udp_mem's first value \(UDP has no pressure mode\) a socket already holding net\.ipv4\.udp_rmem_min is refused/);
        const sends = counterRates(sample(0, { "Udp.SndbufErrors": 0 }), sample(10, { "Udp.SndbufErrors": 100 }));
        assert.match(diagnose(sends)[0].knob, /wmem_max .*; if tc -s qdisc shows drops on the interface, its txqueuelen and qdisc limit/, "a qdisc drop comes back as ENOBUFS, counted as a send buffer error");
    });

    it("gives no rate for a 32-bit counter over a window long enough for it to wrap more than once", function () {
        const at = (seconds: number, processed: number) => sample(seconds, { "softnet.cpu0.processed": processed });
        assert.deepEqual(counterRates(at(0, 4294000000), at(60, 100000))["softnet.cpu0.processed"]?.note, "wrapped at 2^32");
        // 3600 s at 4 million/s is 3.35 turns of 2^32: the readings cannot say how many.
        const long = counterRates(at(0, 1000), at(3600, 1515099112))["softnet.cpu0.processed"];
        assert.equal(long.perSecond, null);
        assert.match(long.note ?? "", /a 32-bit counter: at up to \d+\/s it can wrap more than once in 3600 s/);
    });

    it("refuses, before any sample, a window too long for softnet's 32-bit counts: in a gate's condition, a profile's evidence, a fleet's", function () {
        assert.equal(longestRatedWindow("softnet.dropped"), 400, "429.5 s, less what taking the samples adds to the measured window");
        assert.equal(longestRatedWindow("Udp.RcvbufErrors"), undefined);
        const condition = (counter: string, windowSeconds: number) => checkFailures(counterConditionSchema, { counter, maxPerSecond: 1, windowSeconds });
        assert.deepEqual(condition("softnet.dropped", 400), []);
        assert.deepEqual(condition("softnet.dropped", 429), [{ property: "windowSeconds", reason: "softnet.dropped is made of 32-bit counts per CPU, which could wrap more than once in 429 s: at most 400 s" }]);
        assert.deepEqual(condition("Udp.RcvbufErrors", 3600), [], "a 64-bit counter: any window");
        assert.match(checkFailures(counterEvidenceInputsSchema, { counters: ["Tcp.RetransSegs", "softnet.dropped"], windowSeconds: 500, resourceName: "e" })[0]?.reason ?? "", /softnet\.dropped .* at most 400 s/);
        assert.match(checkFailures(waveEvidenceInputsSchema, { wave: 1, hosts: [{ name: "h1", counters: ["softnet.dropped"] }], windowSeconds: 500 })[0]?.reason ?? "", /at most 400 s/, "a fleet's evidence resource too");
        assert.throws(() => parseFleetConfig({ hosts: [{ name: "h1", connection: { host: "10.0.0.1" } }], assignments: [{ profile: "sip-router" }], evidence: { windowSeconds: 500 } } as never), /evidence\.windowSeconds: must be at most 400 s/);
    });

    it("reads an interface whose name has a dot (a VLAN), and an interrupt counter that wrapped at 2^32", function () {
        const rates = counterRates(
            sample(0, { "link.eth0.100.rx_missed_errors": 0, "nic.eth0.100.rx_queue_0_drops": 0, "link.eth0.100.rx_dropped": 0, ...queueIrqs("bond0.10", { cpu0: [4294967000, 0], cpu1: [5, 0] }) }),
            sample(5, { "link.eth0.100.rx_missed_errors": 10, "nic.eth0.100.rx_queue_0_drops": 10, "link.eth0.100.rx_dropped": 10, ...queueIrqs("bond0.10", { cpu0: [49704, 0], cpu1: [7, 0] }) }),
        );
        assert.deepEqual(rates["irq.bond0.10.cpu0.irq30"], { delta: 50000, perSecond: 10000, note: "wrapped at 2^32" });
        assert.deepEqual(rates["irq.bond0.10.cpu0"], { delta: 50000, perSecond: 10000 });
        const findings = diagnose(rates);
        assert.deepEqual(findings.map((f) => f.counter).sort(), ["irq.bond0.10.cpu0", "link.eth0.100.rx_dropped", "link.eth0.100.rx_missed_errors", "nic.eth0.100.rx_queue_0_drops"]);
        assert.match(findings.find((f) => f.counter === "irq.bond0.10.cpu0")!.meaning, /of bond0\.10's interrupts land on cpu0/);
    });
});

describe("counters: NIC port discards", function () {
    it("points ice's port discards (rx_dropped.nic) at the rings, as i40e's port.rx_dropped, and a bare rx_dropped at the backlog", function () {
        const counters = ["nic.eth0.rx_dropped.nic", "nic.eth1.port.rx_dropped", "nic.eth2.rx_dropped", "nic.eth0.tx_dropped_link_down.nic"];
        const rates = counterRates(sample(0, Object.fromEntries(counters.map((c) => [c, 0]))), sample(10, Object.fromEntries(counters.map((c) => [c, 100]))));
        const knobs = Object.fromEntries(diagnose(rates).map((f) => [f.counter, f.knob]));
        assert.deepEqual(Object.keys(knobs).sort(), ["nic.eth0.rx_dropped.nic", "nic.eth1.port.rx_dropped", "nic.eth2.rx_dropped"]);
        assert.match(knobs["nic.eth0.rx_dropped.nic"], /^NicRingConfig rings/);
        assert.equal(knobs["nic.eth0.rx_dropped.nic"], knobs["nic.eth1.port.rx_dropped"]);
        assert.match(knobs["nic.eth2.rx_dropped"], /^net\.core\.netdev_max_backlog/);
    });
});

describe("counters: ethtool -S names", function () {
    it("reads bnxt_en's per-ring counters, whose names have a colon, as ring0_…", function () {
        const bnxt = ["NIC statistics:", "     [0]: rx_ucast_packets: 1200", "     [0]: rx_discards: 12", "     [1]: rx_discards: 7", "     [1]: tx_discards: 3", "     rx_total_discard_pkts: 19", ""].join("\n");
        assert.deepEqual(parseEthtoolStats(bnxt, "ens2f0np0"), {
            "nic.ens2f0np0.ring0_rx_ucast_packets": 1200,
            "nic.ens2f0np0.ring0_rx_discards": 12,
            "nic.ens2f0np0.ring1_rx_discards": 7,
            "nic.ens2f0np0.ring1_tx_discards": 3,
            "nic.ens2f0np0.rx_total_discard_pkts": 19,
        });
    });

    it("names vmxnet3's repeated per-queue counters by their queue, and a total's parts by the total, and records no queue header", function () {
        const vmxnet3 = [
            "NIC statistics:",
            "     Tx Queue#: 0",
            "       ucast pkts tx: 40",
            "       drv dropped tx total: 1",
            "          too many frags: 0",
            "          giant hdr: 3",
            "       ring full: 0",
            "       giant hdr: 0",
            "     Rx Queue#: 0",
            "       ucast pkts rx: 50",
            "       pkts rx OOB: 4",
            "       drv dropped rx total: 2",
            "          err: 2",
            "     Rx Queue#: 1",
            "       ucast pkts rx: 60",
            "       pkts rx OOB: 5",
            "       drv dropped rx total: 0",
            "          err: 0",
            "     tx timeout count: 0",
            "",
        ].join("\n");
        assert.deepEqual(parseEthtoolStats(vmxnet3, "ens192"), {
            "nic.ens192.txq0_ucast_pkts_tx": 40,
            "nic.ens192.txq0_drv_dropped_tx_total": 1,
            "nic.ens192.txq0_drv_dropped_tx_total_too_many_frags": 0,
            "nic.ens192.txq0_drv_dropped_tx_total_giant_hdr": 3,
            "nic.ens192.txq0_ring_full": 0,
            "nic.ens192.txq0_giant_hdr": 0,
            "nic.ens192.rxq0_ucast_pkts_rx": 50,
            "nic.ens192.rxq0_pkts_rx_OOB": 4,
            "nic.ens192.rxq0_drv_dropped_rx_total": 2,
            "nic.ens192.rxq0_drv_dropped_rx_total_err": 2,
            "nic.ens192.rxq1_ucast_pkts_rx": 60,
            "nic.ens192.rxq1_pkts_rx_OOB": 5,
            "nic.ens192.rxq1_drv_dropped_rx_total": 0,
            "nic.ens192.rxq1_drv_dropped_rx_total_err": 0,
            "nic.ens192.tx_timeout_count": 0,
        });
    });
});
