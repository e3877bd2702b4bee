import { strict as assert } from "assert";
import { checkFailures } from "../../provider/check";
import { formatMask, parseMask } from "../../provider/cpus";
import { parseFileSnapshot } from "../../provider/host/files";
import { hostLedgerPath, ownershipFailures } from "../../provider/host/ledger";
import { fileContent } from "../../provider/host/restore";
import {
    FLOW_ENTRIES,
    SteeringView,
    desiredFor,
    flowCountPerQueue,
    planSteering,
    planSteeringRestore,
    readRequests,
    renderRule,
    ruleLinkProblems,
    sameValue,
    steeringDrift,
    steeringItems,
    steeringProblems,
    viewOf,
} from "../../provider/packet-steering/plan";
import { describeSteeringPath } from "../../provider/packet-steering/remote";
import { packetSteeringInputsSchema } from "../../provider/packet-steering/schema";

const Q = "/sys/class/net/eth1/queues";
const RULE = "/etc/udev/rules.d/90-pulumi-steering-st.rules";
const TARGET = "root@10.0.0.5:22";

const inputs = (extra: Record<string, unknown>) => packetSteeringInputsSchema.parse({ interface: "eth1", resourceName: "st", ...extra });

function view(extra: Partial<SteeringView> = {}): SteeringView {
    return {
        exists: true,
        rx: ["rx-0", "rx-1"],
        tx: ["tx-0", "tx-1"],
        values: { "rx-0/rps_cpus": "0", "rx-1/rps_cpus": "0", "rx-0/rps_flow_cnt": "0", "rx-1/rps_flow_cnt": "0", "tx-0/xps_cpus": "0", "tx-1/xps_cpus": "0", [FLOW_ENTRIES]: "0" },
        online: [0, 1, 2, 3],
        numaNode: 0,
        numaCpus: [2, 3],
        isolated: [],
        ...extra,
    };
}

const snapshot = (rule?: string) => parseFileSnapshot(rule === undefined ? "" : `file\t${RULE}\t${Buffer.from(rule).toString("base64")}\n`);

describe("PacketSteering masks", function () {
    it("formats CPU sets as the kernel's hex mask, 32-bit chunks most significant first", function () {
        assert.equal(formatMask([]), "0");
        assert.equal(formatMask([0, 1]), "3");
        assert.equal(formatMask([3]), "8");
        assert.equal(formatMask([31]), "80000000");
        assert.equal(formatMask([32]), "1,00000000");
        assert.equal(formatMask([0, 40, 95]), "80000000,00000100,00000001");
    });

    it("parses what the kernel prints, padded or not, and refuses anything else", function () {
        assert.deepEqual(parseMask("f\n"), [0, 1, 2, 3]);
        assert.deepEqual(parseMask("00000000,00000003"), [0, 1]);
        assert.deepEqual(parseMask("1,00000000"), [32]);
        assert.deepEqual(parseMask("0"), []);
        for (const bad of ["", "0x3", "g", "3,", "123456789", "1-3"]) {
            assert.throws(() => parseMask(bad), /is not a CPU mask/, bad);
        }
        for (const cpus of [[], [0], [5, 63], [0, 31, 32, 64, 200]]) {
            assert.deepEqual(parseMask(formatMask(cpus)), cpus);
        }
    });

    it("compares masks by CPU set and counts by number", function () {
        assert.ok(sameValue("rx-0/rps_cpus", "00000000,00000003", "3"));
        assert.ok(!sameValue("rx-0/rps_cpus", "7", "3"));
        assert.ok(sameValue("rx-0/rps_flow_cnt", "128\n", "128"));
    });

    it("names a refused file by interface and queue", function () {
        assert.equal(describeSteeringPath(`${Q}/rx-3/rps_cpus`), "eth1 rx-3/rps_cpus");
        assert.equal(describeSteeringPath("/proc/sys/net/core/rps_sock_flow_entries"), FLOW_ENTRIES);
        assert.equal(describeSteeringPath("/etc/udev/rules.d/90-pulumi-steering-st.rules"), "/etc/udev/rules.d/90-pulumi-steering-st.rules");
    });
});

describe("PacketSteering inputs", function () {
    const failures = (extra: Record<string, unknown>) => checkFailures(packetSteeringInputsSchema, { interface: "eth1", resourceName: "st", ...extra });

    it("needs one of rps, rfs, xps, and exactly one policy in each", function () {
        assert.deepEqual(failures({}).map((f) => f.property), ["rps"]);
        assert.match(failures({ rps: { cpus: "0", spread: "1" } })[0].reason, /set exactly one placement policy: cpus, spread or numaLocal \(got cpus, spread\)/);
        assert.deepEqual(failures({ xps: { exclude: "1" } }).map((f) => f.property), ["xps.cpus"]);
        assert.deepEqual(failures({ rps: { cpus: "3-0" } }).map((f) => f.property), ["rps.cpus"]);
        assert.deepEqual(failures({ rps: { cpus: "0", perQueue: {} } }).map((f) => f.property), ["rps"]);
    });

    it("takes flowEntries as a power of two up to the kernel's 1 << 29", function () {
        assert.deepEqual(failures({ rfs: { flowEntries: 32768 } }), []);
        assert.match(failures({ rfs: { flowEntries: 30000 } })[0].reason, /not a power of two: the kernel rounds it up to 32768/);
        assert.deepEqual(failures({ rfs: { flowEntries: 2 ** 30 } }).map((f) => f.property), ["rfs.flowEntries"]);
        assert.deepEqual(failures({ rfs: { flowEntries: 0 } }).map((f) => f.property), ["rfs.flowEntries"]);
        for (const bad of [-1, 0, 1.5, 2 ** 53, -(2 ** 40)]) {
            const found = failures({ rfs: { flowEntries: bad } });
            assert.equal(found.length, 1, `one failure for ${bad}: ${JSON.stringify(found)}`);
            assert.doesNotMatch(found[0].reason, /rounds it up to 1;|safe|expected/, `${bad}: ${found[0].reason}`);
        }
    });
});

describe("PacketSteering plan", function () {
    it("reads queues in number order and the values the kernel shows", function () {
        const text = [`dir\t/sys/class/net/eth1\tqueues`, `dir\t${Q}\ttx-10 rx-10 rx-2 tx-2`, `file\t${Q}/rx-2/rps_cpus\t${Buffer.from("00000003\n").toString("base64")}`, `file\t/sys/devices/system/cpu/online\t${Buffer.from("0-3\n").toString("base64")}`].join("\n");
        const v = viewOf(inputs({ rps: { cpus: "0" } }), parseFileSnapshot(text));
        assert.deepEqual([v.rx, v.tx], [["rx-2", "rx-10"], ["tx-2", "tx-10"]]);
        assert.equal(v.values["rx-2/rps_cpus"], "00000003");
        assert.deepEqual(v.online, [0, 1, 2, 3]);
        assert.equal(v.realDir, undefined);
        assert.equal(viewOf(inputs({ rps: { cpus: "0" } }), parseFileSnapshot(`${text}\nlink\t/sys/class/net/eth1\t/sys/devices/virtual/net/eth1`)).realDir, "/sys/devices/virtual/net/eth1");
    });

    it("places RPS and XPS by IrqAffinity's policies: the same set, spread, NUMA-local, with exclude", function () {
        assert.deepEqual(desiredFor(inputs({ rps: { cpus: "0-3", exclude: "0" } }), view(), TARGET).values, { "rx-0/rps_cpus": "e", "rx-1/rps_cpus": "e" });
        assert.deepEqual(desiredFor(inputs({ xps: { spread: "1-3" } }), view(), TARGET).values, { "tx-0/xps_cpus": "2", "tx-1/xps_cpus": "4" });
        assert.deepEqual(desiredFor(inputs({ rps: { numaLocal: true } }), view(), TARGET).values, { "rx-0/rps_cpus": "4", "rx-1/rps_cpus": "8" });
        const noNuma = desiredFor(inputs({ rps: { numaLocal: true } }), view({ numaNode: undefined, numaCpus: undefined }), TARGET);
        assert.deepEqual(noNuma.values, { "rx-0/rps_cpus": "1", "rx-1/rps_cpus": "2" });
        assert.match(noNuma.warnings[0], /reports no NUMA node; rps spreads over all online CPUs/);
    });

    it("keeps RPS off the CPUs the host isolated (isolcpus=, nohz_full=), as the kernel does, and XPS as declared", function () {
        const isolated = view({ isolated: [2, 3] });
        const spread = desiredFor(inputs({ rps: { spread: "0-3" }, xps: { spread: "0-3" } }), isolated, TARGET);
        assert.deepEqual(spread.values, { "rx-0/rps_cpus": "1", "rx-1/rps_cpus": "2", "tx-0/xps_cpus": "1", "tx-1/xps_cpus": "2" });
        assert.deepEqual(spread.warnings, [`${TARGET}: rps leaves out CPUs 2-3, which are isolated (isolcpus= or nohz_full=, as /sys/devices/system/cpu/isolated and nohz_full show): the kernel keeps RPS off them`]);
        // A profile's "every CPU but the application's": the isolated ones are left out too.
        const every = desiredFor(inputs({ rps: { cpus: "0-4095", exclude: "0" } }), isolated, TARGET);
        assert.deepEqual(every.values, { "rx-0/rps_cpus": "2", "rx-1/rps_cpus": "2" });
        assert.match(every.warnings[0], /rps leaves out CPUs 2-3, which are isolated/);
        const problems = (extra: Record<string, unknown>) => steeringProblems(inputs(extra), isolated, TARGET);
        assert.deepEqual(problems({ rps: { cpus: "1-3", exclude: "1" } }), [
            { property: "rps.cpus", reason: `${TARGET}: every online CPU of rps.cpus (2-3) is isolated (isolcpus= or nohz_full=, as /sys/devices/system/cpu/isolated and nohz_full show): the kernel keeps RPS off them` },
        ]);
        assert.deepEqual(problems({ rps: { numaLocal: true } }).map((p) => p.property), ["rps.numaLocal"]);
        assert.deepEqual(desiredFor(inputs({ rps: { cpus: "0-1" } }), isolated, TARGET).warnings, []);
        assert.deepEqual(desiredFor(inputs({ rps: { cpus: "0-1", exclude: "1" } }), view({ isolated: [1] }), TARGET).warnings, [], "an excluded isolated CPU is no news");
        const snap = parseFileSnapshot(
            ["/sys/devices/system/cpu/isolated\t2-3\n", "/sys/devices/system/cpu/nohz_full\t(null)\n"].map((l) => { const [p, c] = l.split("\t"); return `file\t${p}\t${Buffer.from(c).toString("base64")}`; }).join("\n"),
        );
        assert.deepEqual(viewOf(inputs({ rps: { cpus: "0" } }), snap).isolated, [2, 3], "nohz_full's (null) is none");
    });

    it("shares the flow table out over the rx queues as the kernel rounds it (scaling.html)", function () {
        assert.equal(flowCountPerQueue(32768, 2), 16384);
        assert.equal(flowCountPerQueue(32768, 3), 16384);
        assert.equal(flowCountPerQueue(4, 8), 1);
        assert.deepEqual(desiredFor(inputs({ rfs: { flowEntries: 32768 } }), view(), TARGET).values, { [FLOW_ENTRIES]: "32768", "rx-0/rps_flow_cnt": "16384", "rx-1/rps_flow_cnt": "16384" });
    });

    it("refuses at check what the host cannot take, naming the property and the host", function () {
        const problems = (extra: Record<string, unknown>, v = view()) => steeringProblems(inputs(extra), v, TARGET);
        assert.deepEqual(problems({ rps: { cpus: "1-2", exclude: "1-2" } }), [{ property: "rps.cpus", reason: `${TARGET}: no online CPU left in rps.cpus 1-2 after excluding 1-2 (online: 0-3)` }]);
        assert.deepEqual(problems({ xps: { spread: "6-7" } }).map((p) => p.property), ["xps.spread"]);
        assert.deepEqual(problems({ xps: { numaLocal: true, exclude: "2-3" } }).map((p) => p.property), ["xps.numaLocal"]);
        assert.deepEqual(problems({ rps: { cpus: "0" } }, view({ exists: false })).map((p) => p.property), ["interface"]);
        const noTable = view({ values: { ...view().values, [FLOW_ENTRIES]: undefined as unknown as string } });
        delete noTable.values[FLOW_ENTRIES];
        const missing = problems({ rfs: { flowEntries: 1024 } }, noTable);
        assert.equal(missing[0].property, "rfs.flowEntries");
        assert.match(missing[0].reason, /^root@10\.0\.0\.5:22: net\.core\.rps_sock_flow_entries does not exist on this host \(a global key/);
        const skipped = desiredFor(inputs({ rfs: { flowEntries: 1024 }, onMissing: "skip" }), noTable, TARGET);
        assert.deepEqual([skipped.skipped, Object.keys(skipped.values)], [[FLOW_ENTRIES], ["rx-0/rps_flow_cnt", "rx-1/rps_flow_cnt"]]);
        assert.deepEqual(problems({ xps: { cpus: "0" } }, view({ tx: [] })).map((p) => p.property), ["xps"]);
    });

    it("writes the global table first, then flow counts, then masks; only what differs; originals from the first change on", function () {
        const v = view({ values: { ...view().values, "rx-1/rps_cpus": "00000002" } });
        const plan = planSteering(inputs({ rps: { spread: "0-1" }, rfs: { flowEntries: 32768 } }), v, snapshot(), RULE, TARGET);
        assert.deepEqual(plan.writes.map((w) => [w.path, w.value]), [
            ["/proc/sys/net/core/rps_sock_flow_entries", "32768"],
            [`${Q}/rx-0/rps_flow_cnt`, "16384"],
            [`${Q}/rx-1/rps_flow_cnt`, "16384"],
            [`${Q}/rx-0/rps_cpus`, "1"],
        ]);
        assert.equal(plan.record.originals["rx-1/rps_cpus"], "00000002");
        assert.equal(plan.files.write?.[0].path, RULE);
        assert.deepEqual(plan.record.managedFiles?.originals[RULE], { kind: "absent" });
        const again = planSteering(inputs({ rps: { spread: "0-1" } }), view({ values: { ...v.values, "rx-0/rps_cpus": "1", "rx-0/rps_flow_cnt": "16384" } }), snapshot(), RULE, TARGET, { ...plan.record, originals: { ...plan.record.originals, "rx-0/rps_cpus": "f" } });
        assert.equal(again.record.originals["rx-0/rps_cpus"], "f");
    });

    it("follows queues: new ones are set, dropped items go back, originals of vanished queues are gone", function () {
        const previous = { originals: { "rx-0/rps_cpus": "0", "rx-1/rps_cpus": "0", "tx-0/xps_cpus": "3" } };
        const now = view({ rx: ["rx-0"], values: { "rx-0/rps_cpus": "1", "tx-0/xps_cpus": "1", "rx-0/rps_flow_cnt": "0", [FLOW_ENTRIES]: "0" } });
        const plan = planSteering(inputs({ rps: { spread: "0-3" }, persist: false }), now, snapshot(), RULE, TARGET, previous);
        assert.deepEqual(plan.record.originals, { "rx-0/rps_cpus": "0" });
        assert.deepEqual(plan.writes.map((w) => [w.path, w.value]), [[`${Q}/tx-0/xps_cpus`, "3"]]);
        const grown = planSteering(inputs({ rps: { spread: "0-3" }, persist: false }), view({ rx: ["rx-0", "rx-1", "rx-2"], values: { ...now.values, "rx-1/rps_cpus": "0", "rx-2/rps_cpus": "0" } }), snapshot(), RULE, TARGET, plan.record);
        assert.deepEqual(grown.writes.map((w) => [w.path, w.value]), [[`${Q}/rx-1/rps_cpus`, "2"], [`${Q}/rx-2/rps_cpus`, "4"]]);
        assert.deepEqual(grown.record.originals, { "rx-0/rps_cpus": "0", "rx-1/rps_cpus": "0", "rx-2/rps_cpus": "0" });
    });

    it("refuses a symbolic link at its rule's path (a /dev/null mask), which a write would go through or replace", function () {
        const masked = parseFileSnapshot(`symlink\t${RULE}\t/dev/null\n`);
        const why = `${RULE} is a symbolic link (to /dev/null), not a file this resource may write: remove the link, give the resource another name, or set persist: false`;
        assert.deepEqual(ruleLinkProblems(inputs({ rps: { cpus: "1" } }), masked, RULE, TARGET), [{ property: "persist", reason: `${TARGET}: ${why}` }]);
        assert.throws(() => planSteering(inputs({ rps: { cpus: "1" } }), view({ rx: ["rx-0"] }), masked, RULE, TARGET), (e: Error) => e.message === `${TARGET}: ${why}. Nothing was changed.`);
        assert.deepEqual(ruleLinkProblems(inputs({ rps: { cpus: "1" }, persist: false }), masked, RULE, TARGET), []);
        assert.ok(readRequests(inputs({ rps: { cpus: "1" } }), RULE).includes(`symlink:${RULE}`));
    });

    it("lists as the ledger's items each queue file by both its paths, the global flow table and the rule", function () {
        const plan = planSteering(inputs({ rps: { cpus: "1" }, rfs: { flowEntries: 32768 } }), view({ rx: ["rx-0"] }), snapshot(), RULE, TARGET);
        const real = "/sys/devices/virtual/net/eth1/queues";
        assert.deepEqual(steeringItems(plan.record, "eth1", view({ realDir: "/sys/devices/virtual/net/eth1" })), [
            "/proc/sys/net/core/rps_sock_flow_entries",
            `${Q}/rx-0/rps_flow_cnt`,
            `${real}/rx-0/rps_flow_cnt`,
            `${Q}/rx-0/rps_cpus`,
            `${real}/rx-0/rps_cpus`,
            RULE,
        ]);
        assert.deepEqual(steeringItems({ originals: { "tx-0/xps_cpus": "0" } }, "eth1", view()), [`${Q}/tx-0/xps_cpus`]);
    });

    it("a queue file another resource's ledger holds by its real path, or the flow table, is refused on interface naming the owner", function () {
        const theirs = new Map([[hostLedgerPath("sysfs", "p/prod/raw"), { owner: "p/prod/raw", items: ["/sys/devices/virtual/net/eth1/queues/rx-1/rps_cpus"], record: {}, createdDirs: [] }]]);
        const plan = planSteering(inputs({ rps: { cpus: "1" } }), view(), snapshot(), RULE, TARGET);
        const items = steeringItems(plan.record, "eth1", view({ realDir: "/sys/devices/virtual/net/eth1" }));
        assert.deepEqual(ownershipFailures({ kind: "packet-steering", owner: "p/dev/st", ledgers: theirs, target: TARGET }, [hostLedgerPath("packet-steering", "p/dev/st")], "unit-steering:22", items, "interface"), [
            { property: "interface", reason: `${TARGET}: /sys/devices/virtual/net/eth1/queues/rx-1/rps_cpus is managed by p/prod/raw (its ledger on the host); remove it there first` },
        ]);
        const table = new Map([[hostLedgerPath("packet-steering", "p/prod/eth0"), { owner: "p/prod/eth0", items: ["/proc/sys/net/core/rps_sock_flow_entries"], record: {}, createdDirs: [] }]]);
        const rfs = planSteering(inputs({ rfs: { flowEntries: 1024 } }), view(), snapshot(), RULE, TARGET);
        assert.match(ownershipFailures({ kind: "packet-steering", owner: "p/dev/st", ledgers: table, target: TARGET }, [hostLedgerPath("packet-steering", "p/dev/st")], "unit-steering-rfs:22", steeringItems(rfs.record, "eth1", view()), "interface")[0].reason, /rps_sock_flow_entries is managed by p\/prod\/eth0/);
    });

    it("rewrites a rule an earlier version wrote, keeping its original; a delete before that still removes it without a warning", function () {
        const first = planSteering(inputs({ xps: { spread: "0-1" } }), view(), snapshot(), RULE, TARGET);
        const earlier = `ACTION=="add", SUBSYSTEM=="queues", DEVPATH=="*/net/eth1/queues/tx-0", ATTR{xps_cpus}="1"\n`;
        const upgraded = { ...first.record, managedFiles: { ...first.record.managedFiles!, written: { [RULE]: fileContent(earlier) } } };
        const live = view({ values: { ...view().values, "tx-0/xps_cpus": "1", "tx-1/xps_cpus": "2" } });
        const update = planSteering(inputs({ xps: { spread: "0-1" } }), live, snapshot(earlier), RULE, TARGET, upgraded);
        assert.deepEqual(update.writes, []);
        assert.deepEqual(update.files.write, [{ path: RULE, content: renderRule("st", "eth1", first.desired.values) }]);
        assert.deepEqual(update.record.managedFiles?.originals, { [RULE]: { kind: "absent" } });
        const removed = planSteeringRestore(upgraded, live, snapshot(earlier), "eth1", true, TARGET);
        assert.deepEqual(removed.files.remove, [RULE]);
        assert.deepEqual(removed.warnings, []);
    });

    it("fails a delete, or an update dropping it, rather than lose the original of a queue file that cannot be read now", function () {
        const first = planSteering(inputs({ xps: { spread: "0-1" }, rps: { cpus: "0" } }), view(), snapshot(), RULE, TARGET);
        const unmapped = viewOf(
            inputs({ xps: { spread: "0-1" } }),
            parseFileSnapshot([`dir\t/sys/class/net/eth1\tqueues`, `dir\t${Q}\trx-0 tx-0 tx-1`, `file\t${Q}/tx-0/xps_cpus\t${Buffer.from("1\n").toString("base64")}`, `file\t${Q}/rx-0/rps_cpus\t${Buffer.from("1\n").toString("base64")}`, `unreadable\t${Q}/tx-1/xps_cpus`, `file\t/sys/devices/system/cpu/online\t${Buffer.from("0-3\n").toString("base64")}`].join("\n")),
        );
        assert.deepEqual(unmapped.unreadable, ["tx-1/xps_cpus"]);
        const refused = /^Error: root@10\.0\.0\.5:22: cannot put back the original of eth1's tx-1\/xps_cpus: it cannot be read now\. Nothing was changed, and the host-side ledger keeps the originals/;
        assert.throws(() => planSteeringRestore(first.record, unmapped, snapshot(), "eth1", true, TARGET), refused);
        assert.throws(() => planSteering(inputs({ rps: { cpus: "0" } }), unmapped, snapshot(), RULE, TARGET, first.record), refused);
        assert.deepEqual(planSteeringRestore(first.record, unmapped, snapshot(), "eth1", false, TARGET).writes, [], "restoreOnDelete: false leaves it");
    });

    it("restores what still exists and the rule byte for byte", function () {
        const first = planSteering(inputs({ xps: { spread: "0-1" } }), view(), snapshot("# the admin's own\n"), RULE, TARGET);
        const written = renderRule("st", "eth1", first.desired.values);
        const restore = planSteeringRestore(first.record, view({ tx: ["tx-0"], values: { "tx-0/xps_cpus": "1" } }), snapshot(written), "eth1", true, TARGET);
        assert.deepEqual(restore.writes, [{ path: `${Q}/tx-0/xps_cpus`, value: "0" }]);
        assert.deepEqual(restore.files.write, [{ path: RULE, content: "# the admin's own\n" }]);
        assert.deepEqual(planSteeringRestore(first.record, view(), snapshot(written), "eth1", false, TARGET).writes, []);
        const unpersisted = planSteering(inputs({ xps: { spread: "0-1" }, persist: false }), view({ values: { ...view().values, "tx-1/xps_cpus": "2" } }), snapshot(written), RULE, TARGET, first.record);
        assert.deepEqual(unpersisted.files.write, [{ path: RULE, content: "# the admin's own\n" }], "persist: false puts the rule back as it was");
        assert.equal(unpersisted.record.ruleFile, undefined);
        assert.deepEqual(unpersisted.record.managedFiles?.originals, {});
    });

    it("renders the queues' values on the interface's add (by its new name, or its kernel name where nothing names it), and a line per queue for queues added later", function () {
        const rule = renderRule("st", "eth1", { [FLOW_ENTRIES]: "32768", "rx-0/rps_flow_cnt": "16384", "rx-10/rps_cpus": "4", "rx-2/rps_cpus": "2", "rx-0/rps_cpus": "1", "tx-0/xps_cpus": "1" });
        assert.equal(
            rule,
            [
                `# Managed by pulumi-linux-tuning (PacketSteering "st"): applied again when eth1 or its queues appear.`,
                `ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", SYSCTL{net/core/rps_sock_flow_entries}="32768"`,
                `ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", SYSCTL{net/core/rps_sock_flow_entries}="32768"`,
                `ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", ATTR{queues/rx-0/rps_flow_cnt}="16384", ATTR{queues/rx-0/rps_cpus}="1"`,
                `ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", ATTR{queues/rx-0/rps_flow_cnt}="16384", ATTR{queues/rx-0/rps_cpus}="1"`,
                `ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", ATTR{queues/rx-2/rps_cpus}="2"`,
                `ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", ATTR{queues/rx-2/rps_cpus}="2"`,
                `ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", ATTR{queues/rx-10/rps_cpus}="4"`,
                `ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", ATTR{queues/rx-10/rps_cpus}="4"`,
                `ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", ATTR{queues/tx-0/xps_cpus}="1"`,
                `ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", ATTR{queues/tx-0/xps_cpus}="1"`,
                `ACTION=="add", SUBSYSTEM=="queues", DEVPATH=="*/net/eth1/queues/rx-0", ATTR{rps_flow_cnt}="16384", ATTR{rps_cpus}="1"`,
                `ACTION=="add", SUBSYSTEM=="queues", DEVPATH=="*/net/eth1/queues/rx-2", ATTR{rps_cpus}="2"`,
                `ACTION=="add", SUBSYSTEM=="queues", DEVPATH=="*/net/eth1/queues/rx-10", ATTR{rps_cpus}="4"`,
                `ACTION=="add", SUBSYSTEM=="queues", DEVPATH=="*/net/eth1/queues/tx-0", ATTR{xps_cpus}="1"`,
                "",
            ].join("\n"),
        );
        const sorted = Object.fromEntries(Object.entries({ "tx-0/xps_cpus": "1", "rx-0/rps_flow_cnt": "16384", "rx-0/rps_cpus": "1" }).sort(([a], [b]) => a.localeCompare(b)));
        assert.equal(renderRule("st", "eth1", sorted), renderRule("st", "eth1", { "rx-0/rps_flow_cnt": "16384", "rx-0/rps_cpus": "1", "tx-0/xps_cpus": "1" }), "state comes back with sorted keys");
    });

    it("reports drift per queue, a vanished queue as absent", function () {
        assert.deepEqual(steeringDrift({ "rx-0/rps_cpus": "1", "rx-1/rps_cpus": "2", "rx-2/rps_cpus": "4" }, { "rx-0/rps_cpus": "00000001", "rx-1/rps_cpus": "3", "rx-2/rps_cpus": "absent" }), [
            "rx-1/rps_cpus live 3, desired 2",
            "rx-2/rps_cpus live absent, desired 4",
        ]);
    });
});
