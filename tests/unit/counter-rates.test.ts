import { strict as assert } from "assert";
import { diagnose } from "../../components/evidence/diagnose";
import { conditionFailure, counterRates } from "../../provider/counters/rates";
import { isGauge, queueInterruptsPerCpu } from "../../provider/counters/parse";
import { Sample, parseSample } from "../../provider/counters/sample";

const sample = (uptimeSeconds: number, counters: Record<string, number>): Sample => ({ uptimeSeconds, counters, gauges: {}, missing: [] });

describe("counter rates: wraps and resets", function () {
    it("a 64-bit counter past 2^32 that rose has its plain rate", function () {
        const rates = counterRates(sample(100, { "link.eth1.rx_bytes": 5e12, "softnet.cpu0.dropped": 7 }), sample(110, { "link.eth1.rx_bytes": 5e12 + 1000, "softnet.cpu0.dropped": 27 }));
        assert.deepEqual(rates["link.eth1.rx_bytes"], { delta: 1000, perSecond: 100 });
        assert.deepEqual(rates["softnet.cpu0.dropped"], { delta: 20, perSecond: 2 });
    });

    it("a 64-bit counter that went back from above 2^31 was reset, not wrapped: no made-up rate for a gate to fail on", function () {
        const rates = counterRates(sample(100, { "link.eth1.rx_dropped": 3e9, "nic.eth1.rx_missed_errors": 2 ** 32 - 10 }), sample(110, { "link.eth1.rx_dropped": 5, "nic.eth1.rx_missed_errors": 20 }));
        assert.deepEqual(rates["link.eth1.rx_dropped"], { delta: null, perSecond: null, note: "went backwards (3000000000 → 5): reset" });
        assert.equal(rates["nic.eth1.rx_missed_errors"].perSecond, null);
        assert.match(conditionFailure({ counter: "link.eth1.rx_dropped", maxPerSecond: 1000, windowSeconds: 10 }, rates) ?? "", /cannot judge the limit 1000\/s/);
    });

    it("unwraps one CPU's 32-bit softnet counter, and the total is the sum of the CPUs' rates, not a reset", function () {
        const before = parseSample(`@uptime\n100.0 1\n@softnet\nfffffff0 00000001 0 0 0 0 0 0 0 0 0 0 00000000\n00000100 00000002 0 0 0 0 0 0 0 0 0 0 00000001\n`);
        const after = parseSample(`@uptime\n110.0 1\n@softnet\n00000120 00000001 0 0 0 0 0 0 0 0 0 0 00000000\n00000110 00000002 0 0 0 0 0 0 0 0 0 0 00000001\n`);
        assert.equal(before.counters["softnet.processed"], 4294967536, "the sum of 32-bit counters is above 2^32");
        const rates = counterRates(before, after);
        assert.deepEqual(rates["softnet.cpu0.processed"], { delta: 0x130, perSecond: 30.4, note: "wrapped at 2^32" });
        assert.deepEqual(rates["softnet.processed"], { delta: 0x130 + 0x10, perSecond: 32 });
        assert.equal(conditionFailure({ counter: "softnet.processed", maxPerSecond: 100, windowSeconds: 10 }, rates), undefined);
        assert.deepEqual(rates["softnet.dropped"], { delta: 0, perSecond: 0 });
    });

    it("a CPU that went offline (its row gone) or came online adds nothing to the softnet total", function () {
        const before = parseSample(`@uptime\n100.0 1\n@softnet\n00000010 00000005 0 0 0 0 0 0 0 0 0 0 00000000\n0000ff00 00000900 0 0 0 0 0 0 0 0 0 0 00000001\n`);
        const after = parseSample(`@uptime\n110.0 1\n@softnet\n00000030 00000007 0 0 0 0 0 0 0 0 0 0 00000000\n00000001 00000001 0 0 0 0 0 0 0 0 0 0 00000002\n`);
        const rates = counterRates(before, after);
        assert.deepEqual(rates["softnet.dropped"], { delta: 2, perSecond: 0.2 });
        assert.deepEqual(rates["softnet.processed"], { delta: 0x20, perSecond: 3.2 });
        assert.match(rates["softnet.cpu2.dropped"].note ?? "", /not in the earlier sample/);
        assert.equal(rates["softnet.cpu1.dropped"], undefined);
    });

    it("a per-CPU softnet counter that went back by more than half its range cannot be rated, and neither can its total", function () {
        const before = parseSample(`@uptime\n100.0 1\n@softnet\nc0000000 00000000 0 0 0 0 0 0 0 0 0 0 00000000\n`);
        const after = parseSample(`@uptime\n110.0 1\n@softnet\n50000000 00000000 0 0 0 0 0 0 0 0 0 0 00000000\n`);
        const rates = counterRates(before, after);
        assert.match(rates["softnet.cpu0.processed"].note ?? "", /went backwards/);
        assert.deepEqual(rates["softnet.processed"], { delta: null, perSecond: null, note: "softnet.cpu0.processed went backwards (3221225472 → 1342177280): reset" });
    });
});

describe("counter diagnosis: which drop points at which knob", function () {
    it("a softnet total read without per-CPU rows (before Linux 5.10) has no rate over a window its 32-bit parts could wrap in more than once", function () {
        const at = (t: number, dropped: number) => sample(t, { "softnet.dropped": dropped });
        assert.deepEqual(counterRates(at(0, 10), at(100, 30))["softnet.dropped"], { delta: 20, perSecond: 0.2 });
        const long = counterRates(at(0, 10), at(500, 30))["softnet.dropped"];
        assert.equal(long.perSecond, null);
        assert.match(long.note!, /a sum of 32-bit counts per CPU: .* can wrap more than once in 500 s/);
    });

    it("points receive ring overflow at the rings, and nothing else there: not tx or XDP drops, not the kernel's rx_dropped", function () {
        const names = ["nic.eth1.rx_missed_errors", "nic.eth1.rx_fifo_errors", "nic.eth1.rx_no_buffer_count", "nic.eth1.rx_queue_0_drops", "nic.eth1.rx0_drops", "link.eth1.rx_missed_errors", "nic.eth1.tx_queue_0_drops", "nic.eth1.rx_queue_0_xdp_drops", "nic.eth1.rx0_xdp_drop", "link.eth1.rx_dropped", "link.eth1.tx_dropped", "nic.eth1.rxq0_drv_dropped_rx_total", "nic.eth1.rxq0_drv_dropped_rx_total_fcs", "nic.eth1.rxq0_pkts_rx_OOB"];
        const rates = counterRates(sample(0, Object.fromEntries(names.map((n) => [n, 0]))), sample(10, Object.fromEntries(names.map((n) => [n, 100]))));
        const knobs = Object.fromEntries(diagnose(rates, { "net.core.netdev_max_backlog": "1000" }).map((f) => [f.counter, f]));
        const rings = names.filter((n) => /rings \(rx: "max"\)/.test(knobs[n]?.knob ?? ""));
        assert.deepEqual(rings, ["nic.eth1.rx_missed_errors", "nic.eth1.rx_fifo_errors", "nic.eth1.rx_no_buffer_count", "nic.eth1.rx_queue_0_drops", "nic.eth1.rx0_drops", "link.eth1.rx_missed_errors", "nic.eth1.rxq0_pkts_rx_OOB"]);
        assert.equal(knobs["nic.eth1.tx_queue_0_drops"], undefined);
        assert.equal(knobs["nic.eth1.rx_queue_0_xdp_drops"], undefined);
        const backlog = knobs["link.eth1.rx_dropped"];
        assert.match(backlog.knob, /^net\.core\.netdev_max_backlog when softnet\.dropped rises/);
        assert.deepEqual(backlog.settings, { "net.core.netdev_max_backlog": "1000" });
        assert.deepEqual(backlog.sources, ["NETS https://docs.kernel.org/admin-guide/sysctl/net.html"]);
    });
});

describe("counter rates: reboots and interrupt wraps", function () {
    const booted = (bootId: string | undefined, uptimeSeconds: number, counters: Record<string, number>): Sample => ({ ...sample(uptimeSeconds, counters), ...(bootId ? { bootId } : {}) });

    it("another boot id is a reboot even when the later sample's uptime is longer: no rate, and a gate cannot judge", function () {
        const rates = counterRates(booted("boot-a", 100, { "TcpExt.ListenOverflows": 10 }), booted("boot-b", 5000, { "TcpExt.ListenOverflows": 50 }));
        assert.deepEqual(rates["TcpExt.ListenOverflows"], { delta: null, perSecond: null, note: "the host rebooted between the samples" });
        assert.match(conditionFailure({ counter: "TcpExt.ListenOverflows", maxPerSecond: 100, windowSeconds: 10 }, rates) ?? "", /cannot judge/);
        assert.equal(counterRates(booted("boot-a", 100, { c: 10 }), booted("boot-a", 110, { c: 50 })).c.perSecond, 4, "the same boot");
    });

    it("takes an ICMP type the kernel leaves out while it is 0 as 0, not as a counter the host lacks", function () {
        const read = { "Icmp.InMsgs": 5, "Icmp6.InMsgs": 5 };
        const quiet = counterRates(booted("boot-a", 100, read), booted("boot-a", 110, read));
        const condition = { counter: "IcmpMsg.OutType3", maxPerSecond: 10, windowSeconds: 10 };
        assert.equal(conditionFailure(condition, quiet), undefined, "no port unreachable sent: within the limit");
        const noIpv6 = counterRates(booted("boot-a", 100, { "Icmp.InMsgs": 5 }), booted("boot-a", 110, { "Icmp.InMsgs": 5 }));
        assert.equal(conditionFailure({ ...condition, counter: "Icmp6.OutType1" }, noIpv6), "Icmp6.OutType1: this host does not report it", "IPv6 off: no snmp6 to leave it out of");
        const firstSent = counterRates(booted("boot-a", 100, read), booted("boot-a", 110, { ...read, "IcmpMsg.OutType3": 500, "Icmp6.InType133": 2 }));
        assert.deepEqual([firstSent["IcmpMsg.OutType3"], firstSent["Icmp6.InType133"].perSecond], [{ delta: 500, perSecond: 50 }, 0.2], "the first ones sent in the window are a rise from 0");
        assert.match(conditionFailure(condition, firstSent) ?? "", /^IcmpMsg\.OutType3 rose 50\.0\/s/);
        const rebooted = counterRates(booted("boot-a", 100, read), booted("boot-b", 110, read));
        assert.match(conditionFailure(condition, rebooted) ?? "", /cannot judge/, "a reboot in the window hides it as it hides any other");
        assert.equal(conditionFailure({ ...condition, counter: "Udp.NoSuchCounter" }, quiet), "Udp.NoSuchCounter: this host does not report it");
    });

    it("falls back to the uptime only when a sample has no boot id", function () {
        assert.match(counterRates(booted(undefined, 5000, { c: 10 }), booted("boot-b", 40, { c: 50 })).c.note ?? "", /rebooted/);
        assert.equal(counterRates(booted("boot-a", 100, { c: 10 }), booted(undefined, 110, { c: 50 })).c.perSecond, 4);
    });

    /** A sample of eth1 whose /proc/interrupts has these queue IRQs (30, 31, …), each with its count on CPU0 and CPU1. */
    const interrupts = (uptime: number, irqs: [number, number][]) =>
        parseSample(
            [`@uptime`, `${uptime}.00 1`, `@interrupts`, `            CPU0       CPU1`, ...irqs.map(([cpu0, cpu1], i) => ` ${30 + i}: ${cpu0} ${cpu1}  PCI-MSIX-0000:3b:00.0  ${i + 1}-edge  eth1-TxRx-${i}`), ""].join("\n"),
            "eth1",
        );

    it("unwraps each queue IRQ's count on a CPU before summing them: two wraps in one window are no negative rate", function () {
        const before = interrupts(100, [
            [4294967000, 5],
            [4294966000, 5],
        ]);
        const after = interrupts(110, [
            [704, 5],
            [1704, 5],
        ]);
        const rates = counterRates(before, after);
        assert.deepEqual(rates["irq.eth1.cpu0"], { delta: 1000 + 3000, perSecond: 400 });
        assert.deepEqual(rates["irq.eth1.cpu1"], { delta: 0, perSecond: 0 });
        assert.equal(conditionFailure({ counter: "irq.eth1.cpu0", maxPerSecond: 100, windowSeconds: 10 }, rates), "irq.eth1.cpu0 rose 400.0/s over 10 s (4000 in all; limit 100/s)");
    });

    it("a queue IRQ's count that restarted (vectors freed and given back the same numbers) is a reset even over a long window", function () {
        const rates = counterRates(sample(100, { "irq.eth0.cpu0.irq40": 2_500_000_000, "irq.eth0.cpu0": 2_500_000_000 }), sample(700, { "irq.eth0.cpu0.irq40": 5, "irq.eth0.cpu0": 5 }));
        assert.match(rates["irq.eth0.cpu0.irq40"].note ?? "", /went backwards \(2500000000 → 5\): reset/, "a wrap would be 3M interrupts/s on one CPU");
        assert.equal(rates["irq.eth0.cpu0"].perSecond, null);
        const wrapped = counterRates(sample(100, { "irq.eth0.cpu0.irq40": 4_294_000_000, "irq.eth0.cpu0": 4_294_000_000 }), sample(700, { "irq.eth0.cpu0.irq40": 5, "irq.eth0.cpu0": 5 }));
        assert.equal(wrapped["irq.eth0.cpu0"].delta, 967_301, "under 2k interrupts/s: wrapped");
        const softnet = counterRates(sample(100, { "softnet.cpu0.processed": 2_500_000_000 }), sample(400, { "softnet.cpu0.processed": 5 }));
        assert.equal(softnet["softnet.cpu0.processed"].note, "wrapped at 2^32", "6M packets/s through one CPU's softirq is possible");
        const longer = counterRates(sample(100, { "softnet.cpu0.processed": 2_500_000_000 }), sample(700, { "softnet.cpu0.processed": 5 }));
        assert.equal(longer["softnet.cpu0.processed"].perSecond, null, "over 600 s it may have wrapped once or twice");
    });

    it("a total whose queue IRQs were renumbered in the window (a driver reset) has no rate: not a calm 0/s for a gate to pass", function () {
        const rates = counterRates(sample(100, { "irq.eth0.cpu2.irq40": 5000, "irq.eth0.cpu2": 5000 }), sample(110, { "irq.eth0.cpu2.irq70": 90000, "irq.eth0.cpu2": 90000 }));
        assert.equal(rates["irq.eth0.cpu2"].perSecond, null);
        assert.match(rates["irq.eth0.cpu2"].note ?? "", /irq\.eth0\.cpu2\.irq40 gone, irq\.eth0\.cpu2\.irq70 new: renumbered/);
        assert.match(conditionFailure({ counter: "irq.eth0.cpu2", maxPerSecond: 0, windowSeconds: 10 }, rates) ?? "", /cannot judge/);
        const added = counterRates(sample(100, { "irq.eth0.cpu2.irq40": 5000, "irq.eth0.cpu2": 5000 }), sample(110, { "irq.eth0.cpu2.irq40": 5010, "irq.eth0.cpu2.irq41": 7, "irq.eth0.cpu2": 5017 }));
        assert.deepEqual(added["irq.eth0.cpu2"], { delta: 10, perSecond: 1 }, "a queue added, none gone: the ones known add up");
        assert.ok(isGauge("MPTcpExt.MPCurrEstab"), "open MPTCP connections: a level, which falls as they close, not a count reset");
    });

    it("never rates a counter negative: a sum of interrupt counts that fell by more than 2^32, without its IRQs' own counts, has no rate", function () {
        const rates = counterRates(sample(100, { "irq.eth1.cpu0": 8589933000 }), sample(110, { "irq.eth1.cpu0": 2408 }));
        assert.equal(rates["irq.eth1.cpu0"].perSecond, null);
        assert.match(rates["irq.eth1.cpu0"].note ?? "", /went backwards/);
        assert.match(conditionFailure({ counter: "irq.eth1.cpu0", maxPerSecond: 100, windowSeconds: 10 }, rates) ?? "", /cannot judge the limit 100\/s/);
        const beyond32Bits = counterRates(sample(100, { "irq.eth1.cpu0.irq30": 2 ** 33, "irq.eth1.cpu0": 2 ** 33 }), sample(110, { "irq.eth1.cpu0.irq30": 5, "irq.eth1.cpu0": 5 }));
        assert.deepEqual([beyond32Bits["irq.eth1.cpu0.irq30"].perSecond, beyond32Bits["irq.eth1.cpu0"].perSecond], [null, null], "whatever an IRQ's count reads");
    });

    it("points one CPU's share of a NIC's interrupts at IrqAffinity only with two queue IRQs or more; with one, at RPS", function () {
        const busyCpu0 = (irqs: number) => {
            const rates = counterRates(interrupts(100, Array.from({ length: irqs }, () => [0, 0])), interrupts(110, Array.from({ length: irqs }, () => [50000 / irqs, 10])));
            return diagnose(rates).find((f) => f.counter === "irq.eth1.cpu0")!;
        };
        const single = busyCpu0(1);
        assert.match(single.meaning, /100% of eth1's interrupts land on cpu0/);
        assert.match(single.knob, /^PacketSteering \(RPS/);
        assert.deepEqual(single.sources, ["SCAL https://docs.kernel.org/networking/scaling.html"]);
        const multi = busyCpu0(2);
        assert.match(multi.knob, /^IrqAffinity/);
        assert.deepEqual(multi.sources.map((s) => s.split(" ")[0]), ["SCAL", "FD-IRQ"]);
    });

    it("counts only receive queue IRQs: a virtio NIC's one queue pair (input.0, output.0) points at RPS, two pairs at IrqAffinity", function () {
        const virtio = (pairs: number, counts: (cpu: number) => number) => {
            const names = Array.from({ length: pairs }, (_, q) => [`virtio1-input.${q}`, `virtio1-output.${q}`]).flat();
            const lines = names.map((name, i) => ` ${41 + i}: ${[0, 1].map((cpu) => counts(cpu)).join(" ")} PCI-MSIX-0000:00:0a.0 ${i + 1}-edge ${name}`);
            return { header: "            CPU0       CPU1", lines };
        };
        const busyCpu0 = (pairs: number) => {
            const sampled = (cpu0: number) => {
                const text = virtio(pairs, (cpu) => (cpu === 0 ? cpu0 : 10));
                return queueInterruptsPerCpu([text.header, ...text.lines].join("\n"), "eth1", undefined, "virtio1");
            };
            return diagnose(counterRates(sample(100, sampled(0)), sample(110, sampled(50000)))).find((f) => f.counter === "irq.eth1.cpu0")!;
        };
        assert.match(busyCpu0(1).knob, /^PacketSteering \(RPS/);
        assert.match(busyCpu0(2).knob, /^IrqAffinity/);
    });
});

describe("counter diagnosis: any driver's receive drops point at the rings", function () {
    it("reads rx drop and discard counters by their drivers' names, and still not tx, XDP, AF_XDP or oversize ones", function () {
        const ring = ["rx_drops", "rx_discards_phy", "rx_out_of_buffer", "queue_0_rx_drops", "ring0_rx_discards", "rxq0_pkts_rx_OOB", "port.rx_dropped", "rx_no_dma_resources"];
        const other = ["tx_dropped", "tx_drops", "ring0_tx_discards", "txq0_pkts_tx_discard", "rx_xdp_drop", "rxq0_xdp_drops", "rx_xsk_drop", "rx0_oversize_pkts_sw_drop", "rx_packets", "ring0_rx_ucast_packets"];
        const names = [...ring, ...other].map((n) => `nic.eth1.${n}`);
        const rates = counterRates(sample(0, Object.fromEntries(names.map((n) => [n, 0]))), sample(10, Object.fromEntries(names.map((n) => [n, 100]))));
        const rings = diagnose(rates)
            .filter((f) => /rings \(rx: "max"\)/.test(f.knob))
            .map((f) => f.counter.slice("nic.eth1.".length));
        assert.deepEqual(rings.sort(), [...ring].sort());
    });

    it("points rx_over_errors (frames that did not fit the host's buffers) at the rings, or the MTU, citing the kernel's definition", function () {
        const names = ["link.eth1.rx_over_errors", "nic.eth1.rx_over_errors", "link.eth1.tx_fifo_errors"];
        const rates = counterRates(sample(0, Object.fromEntries(names.map((n) => [n, 0]))), sample(10, Object.fromEntries(names.map((n) => [n, 100]))));
        const findings = diagnose(rates);
        assert.deepEqual(findings.map((f) => f.counter).sort(), ["link.eth1.rx_over_errors", "nic.eth1.rx_over_errors"]);
        for (const finding of findings) {
            assert.match(finding.knob, /^NicRingConfig rings \(rx: "max"\).*the MTU instead$/);
            assert.deepEqual(finding.sources[0], "KSTATS https://docs.kernel.org/networking/statistics.html");
        }
    });

    it("takes a bare rx_dropped in ethtool -S as the kernel's own (ixgbe, i40e and igb copy it there): the backlog, not the ring", function () {
        const rates = counterRates(sample(0, { "nic.eth1.rx_dropped": 0, "link.eth1.rx_dropped": 0 }), sample(10, { "nic.eth1.rx_dropped": 100, "link.eth1.rx_dropped": 100 }));
        const knobs = diagnose(rates).map((f) => [f.counter, f.knob.split(" ")[0]]).sort();
        assert.deepEqual(knobs, [["link.eth1.rx_dropped", "net.core.netdev_max_backlog"], ["nic.eth1.rx_dropped", "net.core.netdev_max_backlog"]].sort());
    });
});

describe("counter diagnosis: a full SYN queue", function () {
    it("points SYN cookies and SYN-queue drops at somaxconn and the listen() backlog, which cap that queue since Linux 4.4", function () {
        const names = ["TcpExt.SyncookiesSent", "TcpExt.TCPReqQFullDrop", "TcpExt.TCPReqQFullDoCookies", "TcpExt.ListenDrops"];
        const rates = counterRates(sample(0, Object.fromEntries(names.map((n) => [n, 0]))), sample(10, Object.fromEntries(names.map((n) => [n, 100]))));
        for (const finding of diagnose(rates)) {
            assert.match(finding.knob, /^net\.core\.somaxconn and the application's listen\(\) backlog/, finding.counter);
        }
        assert.equal(diagnose(rates).length, names.length);
    });
});
