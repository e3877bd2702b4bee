import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { checkFailures } from "../../provider/check";
import { hostLedgerPath, ledgerWrite, ownershipFailures, recoveredRecord } from "../../provider/host/ledger";
import { OffloadRecord, changeTo, liveOf, mainProperty, offloadDrift, offloadItems, planOffloadRestore, planOffloads, renderRule, resolve, unreadableOriginals } from "../../provider/nic-offload/plan";
import { OffloadSnapshot, parseFeatures, parseOffloadOutput } from "../../provider/nic-offload/remote";
import { canonicalFeature, nicOffloadsInputsSchema } from "../../provider/nic-offload/schema";
import { ledgerListing } from "./ledger-listing";

/** `ethtool -k` (ethtool 6.1, Linux 6.18) on a lab host: its veth eth1, after `ethtool -K eth1 sg off`, and lo. */
const fixture = (name: string) => readFileSync(path.join(__dirname, "fixtures", name), "utf8");
const VETH = fixture("ethtool-k-veth.txt");
const VETH_SG_OFF = fixture("ethtool-k-veth-sg-off.txt");
const LO = fixture("ethtool-k-lo.txt");

const TARGET = "root@10.0.0.5:22";
const RULE = "/etc/udev/rules.d/90-pulumi-offload-off.rules";

function snapshot(text = VETH, extra: Partial<OffloadSnapshot> = {}): OffloadSnapshot {
    return { exists: true, ethtoolPath: "/usr/sbin/ethtool", table: parseFeatures(text), txqueuelen: 1000, ownRule: null, ledgers: new Map(), ...extra };
}

const inputs = (extra: Record<string, unknown>) => nicOffloadsInputsSchema.parse({ interface: "eth1", resourceName: "off", ...extra });

describe("ethtool -k parsing", function () {
    it("reads each feature's state and [fixed], groups with their members by the names -k shows", function () {
        const { features, groups } = parseFeatures(VETH);
        assert.deepEqual(features.get("generic-receive-offload"), { on: false, fixed: false });
        assert.deepEqual(features.get("large-receive-offload"), { on: false, fixed: true });
        assert.deepEqual(features.get("rx-gro-hw"), { on: false, fixed: true });
        assert.deepEqual(features.get("tx-udp_tnl-segmentation"), { on: true, fixed: false });
        assert.deepEqual(features.get("tx-checksum-ipv4"), { on: false, fixed: true, group: "tx-checksumming" });
        assert.deepEqual(groups.get("tcp-segmentation-offload"), ["tx-tcp-segmentation", "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation", "tx-tcp6-segmentation", "tx-tcp-accecn-segmentation"]);
        assert.deepEqual([...groups.keys()], ["tx-checksumming", "scatter-gather", "tcp-segmentation-offload"]);
        assert.equal(features.has("tcp-segmentation-offload"), false, "a group's own line is only a summary");
        assert.equal(features.size, 60);
    });

    it("takes the active state of a feature the kernel could not give, and what was requested ([requested on])", function () {
        const { features } = parseFeatures(VETH_SG_OFF);
        assert.deepEqual(features.get("tx-tcp6-segmentation"), { on: false, fixed: false, requested: true, group: "tcp-segmentation-offload" });
        assert.deepEqual(features.get("generic-segmentation-offload"), { on: false, fixed: false, requested: true });
        assert.deepEqual(features.get("tx-scatter-gather"), { on: false, fixed: false, group: "scatter-gather" });
    });

    it("parses the read program's output: ethtool, features, tx_queue_len, the rule; a failing ethtool -k", function () {
        const b64 = (s: string) => Buffer.from(s).toString("base64");
        const ok = parseOffloadOutput([`ethtool\t/usr/sbin/ethtool`, `features\t0\t${b64(VETH)}`, "txqueuelen\t1000", `own\t${b64("x\n")}`].join("\n"));
        assert.equal(ok.featuresError, undefined);
        assert.equal(ok.txqueuelen, 1000);
        assert.deepEqual(ok.ownRule, { content: "x\n" });
        assert.equal(ok.table.features.get("generic-receive-offload")?.on, false);
        const failing = parseOffloadOutput([`features\t72\t${b64("Cannot get device feature names: Operation not supported")}`, "txqueuelen\t", "own-absent"].join("\n"));
        assert.equal(failing.featuresError, "Cannot get device feature names: Operation not supported");
        assert.equal(failing.txqueuelen, undefined);
        assert.equal(parseOffloadOutput("ethtool\t/usr/sbin/ethtool\nno-interface\nown-absent").exists, false);
    });
});

describe("NicOffloads inputs", function () {
    it("normalises ethtool -K's short names and kernel names to the names -k prints", function () {
        assert.equal(canonicalFeature("gro"), "generic-receive-offload");
        assert.equal(canonicalFeature("rx-gro"), "generic-receive-offload");
        assert.equal(canonicalFeature("rx"), "rx-checksumming");
        assert.equal(canonicalFeature("tso"), "tcp-segmentation-offload");
        assert.equal(canonicalFeature("tx-tcp6-segmentation"), "tx-tcp6-segmentation");
        assert.equal(canonicalFeature("rx-gro-hw"), "rx-gro-hw");
    });

    it("refuses two names for one feature, bad names, and bad queue lengths, naming the property", function () {
        const failures = checkFailures(nicOffloadsInputsSchema, {
            interface: "eth1",
            resourceName: "n",
            features: { gro: true, "generic-receive-offload": false, "rx-gro": true, "GRO;reboot": true, "": false },
            txqueuelen: 2 ** 31,
        });
        assert.deepEqual(failures.map((f) => f.property), ['features["generic-receive-offload"]', 'features["rx-gro"]', 'features["GRO;reboot"]', 'features[""]', "txqueuelen"]);
        assert.match(failures[0].reason, /names the same feature as features\.gro \(generic-receive-offload\); declare it once/);
        assert.match(failures[4].reason, /at most 2147483647: the kernel prints the length as a signed int/);
        assert.deepEqual(checkFailures(nicOffloadsInputsSchema, { interface: "eth1", resourceName: "n", txqueuelen: 2 ** 31 - 1 }), []);
        assert.ok(checkFailures(nicOffloadsInputsSchema, { interface: "eth1", resourceName: "n", features: {} }).some((f) => /at least one/.test(f.reason)));
        assert.ok(checkFailures(nicOffloadsInputsSchema, { interface: "eth1", resourceName: "n", features: { gro: "on" } }).length > 0);
    });
});

describe("NicOffloads against the host", function () {
    it("refuses an unknown feature and a [fixed] one declared other than it is, naming the property and the host", function () {
        const problems = resolve(inputs({ features: { lro: true, "netns-local": true, "rx-gro-hw": false, gro: true } }), snapshot(), TARGET).problems;
        assert.deepEqual(problems.map((p) => p.property), ["features.lro", 'features["netns-local"]']);
        assert.match(problems[0].reason, /large-receive-offload is off \[fixed\] on eth1 of root@10\.0\.0\.5:22 and cannot be turned on/);
        assert.match(problems[1].reason, /eth1 of root@10\.0\.0\.5:22 has no feature netns-local/);
        assert.throws(() => planOffloads(inputs({ features: { lro: true } }), snapshot(), RULE, TARGET), /features\.lro: .* Nothing was changed/);
    });

    it("refuses a group that a fixed member keeps from its value", function () {
        const [problem] = resolve(inputs({ features: { tx: false } }), snapshot(LO), TARGET).problems;
        assert.equal(problem.property, "features.tx");
        assert.match(problem.reason, /tx-checksumming cannot be turned off on eth1 of root@10\.0\.0\.5:22: tx-checksum-ip-generic, tx-checksum-sctp are on \[fixed\]/);
        assert.deepEqual(resolve(inputs({ features: { tx: true } }), snapshot(LO), TARGET).problems, []);
    });

    it("skips under onUnsupported: skip, listing the properties", function () {
        const resolved = resolve(inputs({ features: { lro: true, gro: true }, onUnsupported: "skip" }), snapshot(), TARGET);
        assert.deepEqual(resolved.skipped, ["features.lro"]);
        assert.deepEqual(resolved.desired.features, { "generic-receive-offload": true });
    });

    it("refuses a feature the kernel would keep off for want of another (TSO and GSO without scatter-gather), naming the property", function () {
        const problems = resolve(inputs({ features: { sg: false, tso: true, gso: true } }), snapshot(), TARGET).problems;
        assert.deepEqual(problems.map((p) => p.property), ["features.tso", "features.gso"]);
        assert.match(problems[0].reason, /^tx-tcp-segmentation needs tx-scatter-gather on eth1 of root@10\.0\.0\.5:22, which will be off: the kernel would keep tx-tcp-segmentation off; declare tx-scatter-gather: true$/);
        assert.equal(resolve(inputs({ features: { tso: true } }), snapshot(VETH_SG_OFF), TARGET).problems[0]?.property, "features.tso", "sg already off on the host");
        assert.deepEqual(resolve(inputs({ features: { sg: true, tso: true } }), snapshot(VETH_SG_OFF), TARGET).problems, []);
        assert.deepEqual(resolve(inputs({ features: { sg: false, tso: false } }), snapshot(), TARGET).problems, [], "turning both off is fine");
    });

    it("refuses a symbolic link at its rule's path, which a write would go through or replace", function () {
        const [problem] = resolve(inputs({ features: { gro: true } }), snapshot(VETH, { ownLink: "../other.rules" }), TARGET).problems;
        assert.equal(problem?.property, "persist");
        assert.match(problem.reason, /^on root@10\.0\.0\.5:22, \/etc\/udev\/rules\.d\/\S+ is a symbolic link \(to \.\.\/other\.rules\)/);
        assert.deepEqual(resolve(inputs({ features: { gro: true }, persist: false }), snapshot(VETH, { ownLink: "../other.rules" }), TARGET).problems, []);
    });

    it("counts an original the same update puts back (a feature no longer declared) among what the interface will show", function () {
        const previous = { originals: { features: { "tx-scatter-gather": false, "tx-tcp-segmentation": false } }, skipped: [] };
        const [problem, ...rest] = resolve(inputs({ features: { tso: true } }), snapshot(), TARGET, previous).problems;
        assert.deepEqual(rest, []);
        assert.equal(problem?.property, "features.tso");
        assert.match(problem.reason, /tx-tcp-segmentation needs tx-scatter-gather on eth1 of root@10\.0\.0\.5:22, which will be off \(tx-scatter-gather no longer declared: put back to its original\): the kernel would keep/);
        assert.deepEqual(resolve(inputs({ features: { tso: true }, restoreOnDelete: false }), snapshot(), TARGET, previous).problems, [], "left as it is without restoreOnDelete");
        assert.deepEqual(resolve(inputs({ features: { tso: true } }), snapshot(), TARGET).problems, [], "a new resource: sg stays on");
        assert.throws(() => planOffloads(inputs({ features: { tso: true } }), snapshot(), RULE, TARGET, previous), /features\.tso: .*Nothing was changed/);
    });

    it("refuses TSO without a transmit checksum for its IP version, mangle-ID TSO without TSO, and IPv4/IPv6 checksums beside the generic one", function () {
        const veth = resolve(inputs({ features: { tx: false, tso: true } }), snapshot(), TARGET).problems;
        assert.deepEqual(veth.map((p) => p.property), ["features.tso"]);
        assert.match(veth[0].reason, /^tx-tcp-segmentation needs tx-checksum-ipv4 or tx-checksum-ip-generic on eth1 of root@10\.0\.0\.5:22, which will be off: the kernel would keep tx-tcp-segmentation off; declare tx-checksum-ipv4: true or tx-checksum-ip-generic: true$/);
        // An Intel-style NIC: checksums per IP version, no generic one.
        const perVersion = VETH.replace("tx-checksum-ipv4: off [fixed]", "tx-checksum-ipv4: on").replace("tx-checksum-ip-generic: on", "tx-checksum-ip-generic: off [fixed]").replace("tx-checksum-ipv6: off [fixed]", "tx-checksum-ipv6: on");
        assert.deepEqual(resolve(inputs({ features: { tso: true } }), snapshot(perVersion), TARGET).problems, []);
        const noV6 = resolve(inputs({ features: { "tx-checksum-ipv6": false, tso: true } }), snapshot(perVersion), TARGET).problems;
        assert.match(noV6[0]?.reason ?? "", /^tx-tcp6-segmentation needs tx-checksum-ipv6 or tx-checksum-ip-generic/);
        assert.match(resolve(inputs({ features: { "tx-tcp-segmentation": false, "tx-tcp-mangleid-segmentation": true } }), snapshot(), TARGET).problems[0]?.reason ?? "", /^tx-tcp-mangleid-segmentation needs tx-tcp-segmentation/);
        const both = VETH.replace("tx-checksum-ipv4: off [fixed]", "tx-checksum-ipv4: off");
        assert.match(resolve(inputs({ features: { "tx-checksum-ipv4": true } }), snapshot(both), TARGET).problems[0]?.reason ?? "", /^tx-checksum-ipv4 gives way to tx-checksum-ip-generic/);
        assert.deepEqual(resolve(inputs({ features: { "tx-checksum-ipv4": true, "tx-checksum-ip-generic": false } }), snapshot(both), TARGET).problems, []);
    });

    it("fails on a missing interface", function () {
        const problems = resolve(inputs({ features: { gro: true } }), snapshot(VETH, { exists: false }), TARGET).problems;
        assert.deepEqual(problems, [{ property: "interface", reason: "eth1 does not exist on root@10.0.0.5:22" }]);
    });
});

describe("NicOffloads planning", function () {
    it("expands a group to its changeable members, lets a member override it, writes only what differs", function () {
        const plan = planOffloads(inputs({ features: { "tx-tcp-ecn-segmentation": false, tso: true, gro: true, "rx-gro-list": false }, txqueuelen: 5000 }), snapshot(), RULE, TARGET);
        assert.deepEqual(plan.desired.features, {
            "tx-tcp-segmentation": true,
            "tx-tcp-ecn-segmentation": false,
            "tx-tcp-mangleid-segmentation": true,
            "tx-tcp6-segmentation": true,
            "tx-tcp-accecn-segmentation": true,
            "generic-receive-offload": true,
            "rx-gro-list": false,
        });
        assert.deepEqual(plan.change?.set, { "tx-tcp-ecn-segmentation": false, "generic-receive-offload": true });
        assert.deepEqual(plan.change?.undo, { "tx-tcp-ecn-segmentation": true, "generic-receive-offload": false });
        assert.deepEqual(Object.keys(plan.change?.expect ?? {}).length, 7, "every managed feature is checked after the write");
        assert.deepEqual(plan.change?.txqueuelen, { to: 5000, from: 1000 });
        assert.deepEqual(plan.record.originals, {
            features: { "tx-tcp-segmentation": true, "tx-tcp-ecn-segmentation": true, "tx-tcp-mangleid-segmentation": true, "tx-tcp6-segmentation": true, "tx-tcp-accecn-segmentation": true, "generic-receive-offload": false, "rx-gro-list": false },
            txqueuelen: 1000,
        });
        assert.equal(
            plan.rule?.content,
            '# Managed by pulumi-linux-tuning (NicOffloads "off"): re-applied when eth1 appears.\n' +
                'ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", RUN+="/usr/sbin/ethtool -K eth1 generic-receive-offload on rx-gro-list off tx-tcp-accecn-segmentation on tx-tcp-ecn-segmentation off tx-tcp-mangleid-segmentation on tx-tcp-segmentation on tx-tcp6-segmentation on"\n' +
                'ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", RUN+="/usr/sbin/ethtool -K eth1 generic-receive-offload on rx-gro-list off tx-tcp-accecn-segmentation on tx-tcp-ecn-segmentation off tx-tcp-mangleid-segmentation on tx-tcp-segmentation on tx-tcp6-segmentation on"\n' +
                'ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", ATTR{tx_queue_len}="5000"\n' +
                'ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", ATTR{tx_queue_len}="5000"\n',
        );
    });

    it("a fixed feature already as declared needs nothing", function () {
        const plan = planOffloads(inputs({ features: { lro: false } }), snapshot(), RULE, TARGET);
        assert.deepEqual(plan.desired.features, {});
        assert.equal(plan.change, undefined);
    });

    it("keeps the first originals across updates and puts back what is no longer declared", function () {
        const first = planOffloads(inputs({ features: { gro: true }, txqueuelen: 5000 }), snapshot(), RULE, TARGET);
        const tuned = snapshot(VETH.replace("generic-receive-offload: off", "generic-receive-offload: on"), { txqueuelen: 5000, ownRule: first.rule! });
        const second = planOffloads(inputs({ features: { "rx-gro-list": true } }), tuned, RULE, TARGET, first.record);
        assert.deepEqual(second.change?.set, { "rx-gro-list": true, "generic-receive-offload": false });
        assert.deepEqual(second.change?.txqueuelen, { to: 1000, from: 5000 });
        assert.deepEqual(second.record.originals, { features: { "rx-gro-list": false } });
        const same = planOffloads(inputs({ features: { gro: true }, txqueuelen: 5000 }), tuned, RULE, TARGET, first.record);
        assert.equal(same.change, undefined);
        assert.equal(same.rule, undefined, "the rule in place is not rewritten");
        assert.deepEqual(same.record.originals, first.record.originals);
    });

    it("keeps an original the interface does not show now, to put it back once it does", function () {
        const first = planOffloads(inputs({ features: { gro: true }, onUnsupported: "skip" }), snapshot(), RULE, TARGET);
        assert.deepEqual(first.record.originals.features, { "generic-receive-offload": false });
        const failing = snapshot("", { featuresError: "Cannot get device feature names: Operation not supported" });
        const blind = planOffloads(inputs({ features: { gro: true }, onUnsupported: "skip" }), failing, RULE, TARGET, first.record);
        assert.deepEqual(blind.record.skipped, ["features"]);
        assert.deepEqual(blind.record.originals.features, { "generic-receive-offload": false }, "ethtool -k failing loses nothing");
        const reloaded = snapshot(VETH.replace(/generic-receive-offload: .*\n/, ""));
        const dropped = planOffloads(inputs({ features: { tso: false } }), { ...reloaded, txqueuelen: undefined }, RULE, TARGET, { ...first.record, originals: { ...first.record.originals, txqueuelen: 1000 } });
        assert.equal(dropped.record.originals.features["generic-receive-offload"], false, "nor a feature the driver no longer lists");
        assert.equal(dropped.record.originals.txqueuelen, 1000, "nor a queue length it cannot read");
        const tuned = snapshot(VETH.replace("generic-receive-offload: off", "generic-receive-offload: on"));
        assert.deepEqual(planOffloadRestore(blind.record, tuned, "eth1", RULE, TARGET, true).change?.set, { "generic-receive-offload": false }, "delete puts it back");
        assert.deepEqual(unreadableOriginals(blind.record, tuned, true), []);
        const withQueue = { ...blind.record, originals: { ...blind.record.originals, txqueuelen: 1000 } };
        assert.deepEqual(unreadableOriginals(withQueue, { ...failing, txqueuelen: undefined }, true), ["features (ethtool -k: Cannot get device feature names: Operation not supported)", "txqueuelen"], "a delete now must fail, keeping them");
        assert.deepEqual(unreadableOriginals(withQueue, { ...failing, txqueuelen: undefined }, false), [], "restoreOnDelete: false puts nothing back");
        assert.deepEqual(unreadableOriginals(withQueue, { ...failing, exists: false }, true), [], "the interface gone: nothing to put back on it");
    });

    it("restores originals and removes the rule on delete", function () {
        const first = planOffloads(inputs({ features: { gro: true }, txqueuelen: 5000 }), snapshot(), RULE, TARGET);
        const tuned = snapshot(VETH.replace("generic-receive-offload: off", "generic-receive-offload: on"), { txqueuelen: 5000, ownRule: first.rule! });
        const restore = planOffloadRestore(first.record, tuned, "eth1", RULE, TARGET, true);
        assert.deepEqual(restore.change?.set, { "generic-receive-offload": false });
        assert.deepEqual(restore.change?.txqueuelen, { to: 1000, from: 5000 });
        assert.equal(restore.rule, null);
        assert.deepEqual(planOffloadRestore(first.record, tuned, "eth1", RULE, TARGET, false).change, undefined);
        assert.deepEqual(restore.warnings, []);
        const fixed = snapshot(VETH.replace("generic-receive-offload: off", "generic-receive-offload: on [fixed]"), { txqueuelen: 5000, ownRule: first.rule! });
        assert.deepEqual(planOffloadRestore(first.record, fixed, "eth1", RULE, TARGET, true).warnings, [`${TARGET}: left eth1's generic-receive-offload on: it is fixed now, so its original off cannot go back`]);
        const gone = snapshot(VETH.replace(/^generic-receive-offload: .*\n/m, ""), { txqueuelen: 5000, ownRule: first.rule! });
        assert.deepEqual(planOffloadRestore(first.record, gone, "eth1", RULE, TARGET, true).warnings, [`${TARGET}: left eth1's generic-receive-offload as it is: the interface no longer has it, so its original off cannot go back`]);
    });

    it("names drift per feature and for the queue length", function () {
        const desired = { features: { "generic-receive-offload": true, "tx-tcp6-segmentation": true }, txqueuelen: 5000 };
        const live = liveOf(desired, snapshot(VETH_SG_OFF));
        assert.deepEqual(live, { features: { "generic-receive-offload": false, "tx-tcp6-segmentation": false }, txqueuelen: 1000, requested: { "tx-tcp6-segmentation": true } });
        assert.deepEqual(offloadDrift(desired, live), ["generic-receive-offload live off, desired on", "tx-tcp6-segmentation live off [requested on], desired on", "txqueuelen live 1000, desired 5000"]);
        assert.deepEqual(offloadDrift(desired, desired), []);
        // Declared off and held off only because scatter-gather is: the request turns it on with sg, and up sets it.
        const off = { features: { "generic-segmentation-offload": false } };
        assert.deepEqual(offloadDrift(off, liveOf(off, snapshot(VETH_SG_OFF))), ["generic-segmentation-offload live off [requested on], desired off"]);
        assert.deepEqual(offloadDrift(off, { features: { "generic-segmentation-offload": false } }), [], "off as requested");
    });

    it("sets a feature held off but requested on, so turning on what it depends on does not bring it back; undoes and restores the request", function () {
        // sg off holds GSO off [requested on]: declaring sg on and GSO off must ask for GSO off too.
        const want = { features: { "tx-scatter-gather": true, "generic-segmentation-offload": false } };
        const change = changeTo(want, snapshot(VETH_SG_OFF))!;
        assert.deepEqual(change.set, { "tx-scatter-gather": true, "generic-segmentation-offload": false });
        assert.deepEqual(change.undo, { "tx-scatter-gather": false, "generic-segmentation-offload": true }, "the undo puts the request back");
        assert.deepEqual([change.expect, change.expectRequested], [want.features, {}], "an apply checks the states the NIC is in");
        const first = planOffloads(inputs({ features: { "tx-scatter-gather": true, gso: false } }), snapshot(VETH_SG_OFF), RULE, TARGET);
        assert.deepEqual(first.record.originals.features, { "tx-scatter-gather": false, "generic-segmentation-offload": true }, "the original of GSO is its request");
        const restore = planOffloadRestore(first.record, snapshot(VETH), "eth1", RULE, TARGET, true).change!;
        assert.deepEqual([restore.expect, restore.expectRequested], [{}, first.record.originals.features], "a restore checks the requests it puts back");
        assert.deepEqual(restore.set, { "tx-scatter-gather": false }, "GSO's request is on already");
        // An update that stops declaring GSO puts its original request back, checked as a request: the kernel holds it off while sg is off.
        const dropped = planOffloads(inputs({ features: { "tx-scatter-gather": true } }), snapshot(VETH_SG_OFF), RULE, TARGET, first.record).change!;
        assert.deepEqual(dropped.expectRequested, { "generic-segmentation-offload": true });
        assert.deepEqual(dropped.expect, { "tx-scatter-gather": true });
    });

    it("leaves out of a change what the interface lacks or cannot change", function () {
        assert.equal(changeTo({ features: { "large-receive-offload": true, "no-such": true } }, snapshot()), undefined);
        assert.equal(renderRule("n", "eth1", "/sbin/ethtool", { features: {} }).split("\n").filter((l) => l.startsWith("ACTION")).length, 0);
    });
});

describe("NicOffloads' host ledger", function () {
    const QUEUE = "/sys/devices/virtual/net/eth1/tx_queue_len";
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    /** The read program's output: `features` as -k shows them, the queue length, and these ledgers listed. */
    const readOutput = (features: string, txqueuelen: number, ledgers: Record<string, string>) =>
        [
            `ethtool\t/usr/sbin/ethtool`,
            `features\t0\t${b64(features)}`,
            `txqueuelen\t${txqueuelen}`,
            `txqueuelen-file\t${QUEUE}`,
            "own-absent",
            ...Object.entries(ledgers).flatMap(([path, text]) => ledgerListing(path, text)),
        ].join("\n");

    it("lists each feature by the name ethtool -k shows, tx_queue_len by both its paths, and the udev rule", function () {
        const snap = parseOffloadOutput(readOutput(VETH, 1000, {}));
        assert.equal(snap.txqueuelenFile, QUEUE);
        const plan = planOffloads(inputs({ features: { gro: true, tso: false }, txqueuelen: 5000 }), snap, RULE, TARGET);
        assert.deepEqual(offloadItems("eth1", plan.record, snap), [
            "ethtool:eth1:feature:tx-tcp-segmentation",
            "ethtool:eth1:feature:tx-tcp-ecn-segmentation",
            "ethtool:eth1:feature:tx-tcp-mangleid-segmentation",
            "ethtool:eth1:feature:tx-tcp6-segmentation",
            "ethtool:eth1:feature:tx-tcp-accecn-segmentation",
            "ethtool:eth1:feature:generic-receive-offload",
            "/sys/class/net/eth1/tx_queue_len",
            QUEUE,
            RULE,
        ]);
        const featuresOnly = planOffloads(inputs({ features: { "generic-receive-offload": true }, persist: false }), snap, RULE, TARGET);
        assert.deepEqual(offloadItems("eth1", featuresOnly.record, snap), ["ethtool:eth1:feature:generic-receive-offload"], "gro and its long name are one item");
    });

    it("a create after an interrupted run takes the originals from its ledger, not the tuned live values", function () {
        const path = hostLedgerPath("nic-offload", "p/s/off");
        const declared = inputs({ features: { gro: true }, txqueuelen: 5000 });
        const interrupted = planOffloads(declared, snapshot(), RULE, TARGET);
        const written = ledgerWrite(new Map(), path, "p/s/off", offloadItems("eth1", interrupted.record, snapshot()), interrupted.record, TARGET);
        const tuned = parseOffloadOutput(readOutput(VETH.replace("generic-receive-offload: off", "generic-receive-offload: on"), 5000, { [path]: written.content! }));
        const plan = planOffloads(declared, tuned, RULE, TARGET, recoveredRecord<OffloadRecord>(tuned.ledgers, path));
        assert.deepEqual(plan.record.originals, { features: { "generic-receive-offload": false }, txqueuelen: 1000 });
        assert.deepEqual(planOffloads(declared, tuned, RULE, TARGET).record.originals, { features: { "generic-receive-offload": true }, txqueuelen: 5000 }, "without it, the tuned values");
    });

    it("refuses the queue length another resource's ledger holds by its real path, once, naming the owner", function () {
        const other = ledgerWrite(new Map(), hostLedgerPath("sysfs", "q/prod/queues"), "q/prod/queues", [QUEUE], { originals: {} }, TARGET).content!;
        const snap = parseOffloadOutput(readOutput(VETH, 1000, { [hostLedgerPath("sysfs", "q/prod/queues")]: other }));
        const mine = inputs({ txqueuelen: 5000 });
        const plan = planOffloads(mine, snap, RULE, TARGET);
        const failures = ownershipFailures({ kind: "nic-offload", owner: "p/s/off", ledgers: snap.ledgers, target: TARGET }, [hostLedgerPath("nic-offload", "p/s/off")], "offload-unit-host", offloadItems("eth1", plan.record, snap), mainProperty(mine));
        assert.deepEqual(failures, [{ property: "txqueuelen", reason: `${TARGET}: ${QUEUE} is managed by q/prod/queues (its ledger on the host); remove it there first` }]);
        assert.equal(mainProperty(inputs({ features: { gro: true }, txqueuelen: 5000 })), "features");
    });
});
