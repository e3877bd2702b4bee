import { strict as assert } from "assert";
import { diagnose } from "../../components/evidence/diagnose";
import { conditionFailure, counterRates } from "../../provider/counters/rates";
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
    it("points receive ring overflow at the rings, and nothing else there: not tx or XDP drops, not the kernel's rx_dropped", function () {
        const names = ["nic.eth1.rx_missed_errors", "nic.eth1.rx_fifo_errors", "nic.eth1.rx_no_buffer_count", "nic.eth1.rx_queue_0_drops", "nic.eth1.rx0_drops", "link.eth1.rx_missed_errors", "nic.eth1.tx_queue_0_drops", "nic.eth1.rx_queue_0_xdp_drops", "nic.eth1.rx0_xdp_drop", "link.eth1.rx_dropped", "link.eth1.tx_dropped"];
        const rates = counterRates(sample(0, Object.fromEntries(names.map((n) => [n, 0]))), sample(10, Object.fromEntries(names.map((n) => [n, 100]))));
        const knobs = Object.fromEntries(diagnose(rates, { "net.core.netdev_max_backlog": "1000" }).map((f) => [f.counter, f]));
        const rings = names.filter((n) => /rings \(rx: "max"\)/.test(knobs[n]?.knob ?? ""));
        assert.deepEqual(rings, ["nic.eth1.rx_missed_errors", "nic.eth1.rx_fifo_errors", "nic.eth1.rx_no_buffer_count", "nic.eth1.rx_queue_0_drops", "nic.eth1.rx0_drops", "link.eth1.rx_missed_errors"]);
        assert.equal(knobs["nic.eth1.tx_queue_0_drops"], undefined);
        assert.equal(knobs["nic.eth1.rx_queue_0_xdp_drops"], undefined);
        const backlog = knobs["link.eth1.rx_dropped"];
        assert.match(backlog.knob, /^net\.core\.netdev_max_backlog when softnet\.dropped rises/);
        assert.deepEqual(backlog.settings, { "net.core.netdev_max_backlog": "1000" });
        assert.deepEqual(backlog.sources, ["NETS https://docs.kernel.org/admin-guide/sysctl/net.html"]);
    });
});
