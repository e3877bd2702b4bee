import { strict as assert } from "assert";
import fc from "fast-check";
import { COALESCE_PARAMS, Values, parseCoalesce, parseMaxAndCurrent, RING_PARAMS, CHANNEL_PARAMS, setWords } from "../../provider/nic/ethtool";
import { hostLedgerPath, ledgerWrite, ownershipFailures, recoveredRecord, renderHostLedger } from "../../provider/host/ledger";
import { NicRecord, adjustmentsAfterApply, declaredDrift, expectedValues, mainProperty, nicItems, planNic, planNicRestore, renderRule, resolve } from "../../provider/nic/plan";
import { NicSnapshot, parseNicOutput } from "../../provider/nic/remote";
import { nicRingConfigInputsSchema } from "../../provider/nic/schema";
import { checkFailures } from "../../provider/check";
import { ledgerListing } from "./ledger-listing";

const RINGS = `Ring parameters for eth1:
Pre-set maximums:
RX:		4096
RX Mini:	n/a
RX Jumbo:	n/a
TX:		4096
Current hardware settings:
RX:		256
RX Mini:	n/a
RX Jumbo:	n/a
TX:		256
`;
const CHANNELS = `Channel parameters for eth1:
Pre-set maximums:
RX:		2
TX:		2
Other:		n/a
Combined:	n/a
Current hardware settings:
RX:		1
TX:		1
Other:		n/a
Combined:	n/a
`;
const COALESCE = `Coalesce parameters for eth1:
Adaptive RX: on  TX: off
stats-block-usecs:	n/a
rx-usecs: 50
rx-frames: 0
tx-usecs: 50
tx-frames: n/a
`;

function snapshot(): NicSnapshot {
    return {
        exists: true,
        ethtoolPath: "/usr/sbin/ethtool",
        ownRule: null,
        ledgers: new Map(),
        sections: {
            rings: { supported: true, ...parseMaxAndCurrent(RINGS, RING_PARAMS) },
            channels: { supported: true, ...parseMaxAndCurrent(CHANNELS, CHANNEL_PARAMS) },
            coalesce: { supported: true, max: {}, current: parseCoalesce(COALESCE) },
        },
    };
}

const inputs = (extra: Record<string, unknown>) => nicRingConfigInputsSchema.parse({ interface: "eth1", resourceName: "nic", ...extra });

describe("ethtool parsing", function () {
    it("reads maximums and current values, n/a as absent", function () {
        assert.deepEqual(parseMaxAndCurrent(RINGS, RING_PARAMS), { max: { rx: 4096, tx: 4096 }, current: { rx: 256, tx: 256 } });
        assert.deepEqual(parseMaxAndCurrent(CHANNELS, CHANNEL_PARAMS).current, { rx: 1, tx: 1 });
        assert.deepEqual(parseCoalesce(COALESCE), { adaptiveRx: 1, adaptiveTx: 0, rxUsecs: 50, rxFrames: 0, txUsecs: 50 });
        assert.deepEqual(setWords("coalesce", { adaptiveRx: 0, rxUsecs: 0 }), ["adaptive-rx", "off", "rx-usecs", "0"]);
    });

    it("parses the read program's sections, including an unsupported one", function () {
        const b64 = (s: string) => Buffer.from(s).toString("base64");
        const out = [`ethtool\t/usr/sbin/ethtool`, `section\t-g\t1\t${b64("netlink error: Operation not supported")}`, `section\t-l\t0\t${b64(CHANNELS)}`, `section\t-c\t0\t${b64(COALESCE)}`, "own-absent"].join("\n");
        const parsed = parseNicOutput(out);
        assert.deepEqual(parsed.sections.rings, { supported: false, reason: "netlink error: Operation not supported" });
        assert.equal(parsed.sections.channels.supported, true);
        assert.equal(parsed.ownRule, null);
    });
});

describe("NicRingConfig planning", function () {
    it("resolves max from the pre-set maximums and writes only what differs", function () {
        const plan = planNic(inputs({ rings: { rx: "max", tx: 256 }, coalesce: { adaptiveRx: false } }), snapshot(), "/etc/udev/rules.d/x.rules", "h1");
        assert.deepEqual(plan.desired.rings, { rx: 4096, tx: 256 });
        assert.deepEqual(plan.changes, [
            { section: "rings", words: ["rx", "4096"], undo: ["rx", "256"] },
            { section: "coalesce", words: ["adaptive-rx", "off"], undo: ["adaptive-rx", "on"] },
        ]);
        assert.deepEqual(plan.record.originals, { rings: { rx: 256, tx: 256 }, coalesce: { adaptiveRx: 1 } });
        assert.deepEqual((plan.rule?.content ?? "").split("\n").slice(1), [
            'ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", RUN+="/usr/sbin/ethtool -G eth1 rx 4096 tx 256"',
            'ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", RUN+="/usr/sbin/ethtool -G eth1 rx 4096 tx 256"',
            'ACTION=="add", SUBSYSTEM=="net", NAME=="eth1", RUN+="/usr/sbin/ethtool -C eth1 adaptive-rx off"',
            'ACTION=="add", SUBSYSTEM=="net", KERNEL=="eth1", NAME=="", RUN+="/usr/sbin/ethtool -C eth1 adaptive-rx off"',
            "",
        ]);
    });

    it("a host without ethtool fails on the first declared section, under onUnsupported: skip too, not as the NIC's lack", function () {
        const bare = { ...snapshot(), ethtoolPath: "" };
        const resolved = resolve(inputs({ channels: { combined: 2 }, coalesce: { rxUsecs: 50 }, onUnsupported: "skip" }), bare);
        assert.deepEqual(resolved.problems, [{ property: "channels", reason: "this host has no ethtool on its PATH, which reads and sets rings, channels and coalescing: install the ethtool package" }]);
        assert.deepEqual(resolved.skipped, []);
    });

    it("names the maximum when a size is above it, and unsupported parameters", function () {
        const problems = resolve(inputs({ rings: { rx: 8192, rxMini: 64 }, channels: { combined: 2 } }), snapshot()).problems;
        assert.deepEqual(problems.map((p) => p.property), ["rings.rx", "rings.rxMini", "channels.combined"]);
        assert.match(problems[0].reason, /8192 is above eth1's pre-set maximum 4096/);
        assert.throws(() => planNic(inputs({ rings: { rx: 8192 } }), snapshot(), "r", "h1"), /rings\.rx: 8192 is above .* Nothing was changed/);
    });

    it("refuses channel counts that leave a direction no channel, and an interval without its adaptive switch in a boot rule", function () {
        const channels = (declared: Record<string, number>) => resolve(inputs({ channels: declared }), snapshot()).problems.map((p) => `${p.property}: ${p.reason}`);
        assert.deepEqual(channels({ rx: 1 }), []);
        assert.match(channels({ rx: 0 })[0] ?? "", /^channels\.rx: leaves eth1 no receive channel \(combined 0, rx 0\); the kernel refuses it \(EINVAL\)$/);
        assert.match(channels({ rx: 1, tx: 0 })[0] ?? "", /^channels\.tx: leaves eth1 no transmit channel/);
        const interval = resolve(inputs({ coalesce: { rxUsecs: 50 } }), snapshot()).problems;
        assert.deepEqual(interval.map((p) => p.property), ["coalesce.rxUsecs"]);
        assert.match(interval[0].reason, /declare coalesce\.adaptiveRx beside it: eth1 has Adaptive RX, and at boot its default decides whether the udev rule's interval is taken/);
        assert.deepEqual(resolve(inputs({ coalesce: { rxUsecs: 50 }, persist: false }), snapshot()).problems, [], "no boot rule: apply sequences it against the live switch");
        assert.deepEqual(resolve(inputs({ coalesce: { adaptiveRx: true, rxUsecs: 50 } }), snapshot()).problems, []);
    });

    it("skips unsupported parameters under onUnsupported: skip", function () {
        const snap = snapshot();
        snap.sections.rings = { supported: false, reason: "Operation not supported" };
        const plan = planNic(inputs({ rings: { rx: "max" }, channels: { rx: 2 }, onUnsupported: "skip" }), snap, "r", "h1");
        assert.deepEqual(plan.record.skipped, ["rings"]);
        assert.deepEqual(plan.changes, [{ section: "channels", words: ["rx", "2"], undo: ["rx", "1"] }]);
    });

    it("restores originals on delete", function () {
        const snap = snapshot();
        assert.deepEqual(planNicRestore({ originals: { rings: { rx: 512 } }, skipped: [] }, snap, true).changes, [{ section: "rings", words: ["rx", "512"], undo: ["rx", "256"] }]);
        assert.deepEqual(planNicRestore({ originals: { rings: { rx: 256 } }, skipped: [] }, snap, true).changes, []);
    });

    it("refuses a symbolic link at its rule's path (a /dev/null mask), which a write would go through or replace", function () {
        const masked = { ...snapshot(), ownLink: "/dev/null" };
        const [problem] = resolve(inputs({ rings: { rx: 512 } }), masked).problems;
        assert.equal(problem?.property, "persist");
        assert.match(problem.reason, /^\/etc\/udev\/rules\.d\/90-pulumi-nic-nic\.rules is a symbolic link \(to \/dev\/null\), not a file this resource may write: remove the link, give the resource another name, or set persist: false$/);
        assert.deepEqual(resolve(inputs({ rings: { rx: 512 }, persist: false }), masked).problems, []);
        assert.match(parseNicOutput("own-link\t/dev/null\n").ownLink ?? "", /^\/dev\/null$/);
    });

    it("never forgets an original it cannot read now: the delete names the section, an update keeps it", function () {
        const resetting = snapshot();
        resetting.sections.rings = { supported: false, reason: "netlink error: Device or resource busy" };
        const record = { originals: { rings: { rx: 512 }, channels: { combined: 4 } }, skipped: [] };
        assert.deepEqual(planNicRestore(record, resetting, true).unreadable, ["rings (ethtool -g: netlink error: Device or resource busy)"]);
        const gone = { ...resetting, exists: false };
        assert.deepEqual(planNicRestore(record, gone, true).unreadable, [], "an interface that is gone has nothing to put back");
        const update = planNic(inputs({ channels: { rx: 2 } }), resetting, "r", "h1", record);
        assert.deepEqual(update.record.originals.rings, { rx: 512 }, "no longer declared, unreadable now: kept");
    });

    /**
     * i40e's, ice's and iavf's rule (ethtool -C): a request leaving adaptive on for a direction
     * must not change that direction's interval; the request is refused whole (EINVAL).
     */
    function intelCoalesce(state: Values, words: string[]): Values | "EINVAL" {
        const byWord = Object.fromEntries(Object.entries(COALESCE_PARAMS).map(([param, [, word]]) => [word, param]));
        const request: Values = {};
        for (let i = 0; i < words.length; i += 2) {
            request[byWord[words[i]]] = words[i + 1] === "on" ? 1 : words[i + 1] === "off" ? 0 : Number(words[i + 1]);
        }
        const next = { ...state, ...request };
        const pinned = [["adaptiveRx", "rxUsecs"], ["adaptiveTx", "txUsecs"]].some(([adaptive, usecs]) => next[adaptive] === 1 && next[usecs] !== state[usecs]);
        return pinned ? "EINVAL" : next;
    }

    it("orders coalescing so a driver that pins the interval while adaptive is on takes every step, every undo and the restore", function () {
        const coalesce = fc.record({ adaptiveRx: fc.constantFrom(0, 1), adaptiveTx: fc.constantFrom(0, 1), rxUsecs: fc.constantFrom(0, 8, 50), txUsecs: fc.constantFrom(0, 50) });
        const declared = fc.record(
            { adaptiveRx: fc.boolean(), adaptiveTx: fc.boolean(), rxUsecs: fc.constantFrom(0, 8, 50), txUsecs: fc.constantFrom(0, 50) },
            { requiredKeys: [] },
        ).filter((want) => Object.keys(want).length > 0);
        fc.assert(
            fc.property(coalesce, declared, fc.nat(), (generated, want, failAt) => {
                const have: Values = { ...generated };
                const snap = snapshot();
                snap.sections.coalesce = { supported: true, max: {}, current: have };
                // persist: false, as an interval without its adaptive switch makes no boot rule.
                const plan = planNic(inputs({ coalesce: want, persist: false }), snap, "r", "h1");
                const applied: Values[] = [have];
                for (const change of plan.changes) {
                    const next = intelCoalesce(applied[applied.length - 1], change.words);
                    assert.notEqual(next, "EINVAL", `${change.words.join(" ")} from ${JSON.stringify(applied[applied.length - 1])}`);
                    applied.push(next as Values);
                }
                const end = applied[applied.length - 1];
                for (const [param, value] of Object.entries(want)) {
                    assert.equal(end[param], Number(value), param);
                }
                // A failure after step k: the apply program undoes k-1 … 0, and the NIC is as it was.
                const k = plan.changes.length === 0 ? 0 : failAt % plan.changes.length;
                let state = applied[k];
                for (const change of plan.changes.slice(0, k).reverse()) {
                    const back = intelCoalesce(state, change.undo);
                    assert.notEqual(back, "EINVAL", `undo ${change.undo.join(" ")} from ${JSON.stringify(state)}`);
                    state = back as Values;
                }
                assert.deepEqual(state, have);
                snap.sections.coalesce = { supported: true, max: {}, current: end };
                let restored = end;
                for (const change of planNicRestore(plan.record, snap, true).changes) {
                    const back = intelCoalesce(restored, change.words);
                    assert.notEqual(back, "EINVAL", `restore ${change.words.join(" ")} from ${JSON.stringify(restored)}`);
                    restored = back as Values;
                }
                assert.deepEqual(restored, have, "destroy restores every original");
            }),
        );
    });

    it("writes a boot rule that such a driver takes from any state: interval with adaptive off, then adaptive on", function () {
        const rule = renderRule("n", "eth1", "/sbin/ethtool", { coalesce: { adaptiveRx: 1, rxUsecs: 8, adaptiveTx: 0, txUsecs: 50 } });
        const runs = [...new Set(rule.split("\n").flatMap((line) => /RUN\+="\/sbin\/ethtool -C eth1 ([^"]*)"/.exec(line)?.[1] ?? []))];
        assert.deepEqual(runs, ["adaptive-rx off rx-usecs 8 adaptive-tx off tx-usecs 50", "adaptive-rx on"]);
        for (const boot of [{ adaptiveRx: 1, adaptiveTx: 1, rxUsecs: 50, txUsecs: 50 }, { adaptiveRx: 0, adaptiveTx: 0, rxUsecs: 0, txUsecs: 0 }]) {
            const end = runs.reduce<Values | "EINVAL">((state, run) => (state === "EINVAL" ? state : intelCoalesce(state, run.split(" "))), boot);
            assert.deepEqual(end, { adaptiveRx: 1, rxUsecs: 8, adaptiveTx: 0, txUsecs: 50 });
        }
    });

    it("takes a value the driver adjusted (i40e aligns rings to 32) as in place from then on, until the declaration changes", function () {
        const asked = inputs({ rings: { rx: 1000 } });
        const first = planNic(asked, snapshot(), "r", "h1");
        assert.deepEqual(first.changes, [{ section: "rings", words: ["rx", "1000"], undo: ["rx", "256"] }]);
        assert.deepEqual(first.asked, { rings: { rx: 1000 } });
        const adjusted = adjustmentsAfterApply(first.desired, first.asked, undefined, { rings: { rx: 1024 } });
        assert.deepEqual(adjusted, { rings: { rx: [1000, 1024] } });
        const after = snapshot();
        after.sections.rings = { supported: true, max: { rx: 4096, tx: 4096 }, current: { rx: 1024, tx: 256 } };
        const again = planNic(asked, after, "r", "h1", { ...first.record, adjusted });
        assert.deepEqual(again.changes, [], "1024 is what 1000 gives on this NIC: nothing to do");
        assert.deepEqual(again.record.adjusted, adjusted);
        assert.deepEqual(adjustmentsAfterApply(again.desired, again.asked, adjusted, { rings: { rx: 1024 } }), adjusted, "kept while the host shows it");
        // Changed behind its back (or a boot's rule took 1000 as it is): asked for as declared, never moved to the old 'got'.
        const moved = snapshot();
        moved.sections.rings = { supported: true, max: { rx: 4096, tx: 4096 }, current: { rx: 512, tx: 256 } };
        const converge = planNic(asked, moved, "r", "h1", { ...first.record, adjusted });
        assert.deepEqual(converge.changes.map((c) => c.words), [["rx", "1000"]]);
        assert.deepEqual(adjustmentsAfterApply(converge.desired, converge.asked, adjusted, { rings: { rx: 1000 } }), {}, "a driver that now takes 1000 as it is: no adjustment left");
        // A value changed by another step of the apply (not asked for) is no adjustment of the driver's.
        assert.deepEqual(adjustmentsAfterApply({ coalesce: { rxUsecs: 8 } }, {}, undefined, { coalesce: { rxUsecs: 50 } }), {});
        assert.deepEqual(again.desired, { rings: { rx: 1000 } }, "desired stays what was declared");
        assert.deepEqual(expectedValues(again.desired, adjusted), { rings: { rx: 1024 } });
        assert.deepEqual(declaredDrift(again.desired, adjusted, { rings: { rx: 1024 } }), []);
        assert.deepEqual(declaredDrift(again.desired, adjusted, { rings: { rx: 1000 } }), [], "the declared value itself is no drift");
        assert.deepEqual(declaredDrift(again.desired, adjusted, { rings: { rx: 512 } }), ["rings.rx live 512, desired 1024"]);
        const changed = planNic(inputs({ rings: { rx: 2000 } }), after, "r", "h1", { ...first.record, adjusted });
        assert.deepEqual(changed.changes.map((c) => c.words), [["rx", "2000"]], "a new declaration is asked for as it is");
        assert.equal(changed.record.adjusted, undefined);
    });

    it("renders no RUN line for sections without values", function () {
        assert.equal(renderRule("n", "eth1", "/sbin/ethtool", { rings: {} }).split("\n").filter((l) => l.startsWith("ACTION")).length, 0);
    });

    it("validates inputs before any probe", function () {
        const failures = checkFailures(nicRingConfigInputsSchema, { interface: "eth1; reboot", resourceName: "n", rings: { rx: -1 } });
        assert.deepEqual(failures.map((f) => f.property).sort(), ["interface", "rings.rx"]);
        assert.ok(checkFailures(nicRingConfigInputsSchema, { interface: "eth1", resourceName: "n" }).some((f) => /at least one/.test(f.reason)));
        assert.match(checkFailures(nicRingConfigInputsSchema, { interface: "-s", resourceName: "n", rings: { rx: 512 } })[0].reason, /not starting with -/, "an option to ethtool");
    });
});

describe("NicRingConfig's host ledger", function () {
    const RULE = "/etc/udev/rules.d/90-pulumi-nic-nic.rules";
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    /** The read program's output for `snapshot()` with rings at `rx`, and these ledgers listed. */
    const readOutput = (rx: number, ledgers: Record<string, string>) =>
        [
            `ethtool\t/usr/sbin/ethtool`,
            `section\t-g\t0\t${b64(RINGS.replace(/(Current[\s\S]*?RX:\t\t)256/, `$1${rx}`))}`,
            `section\t-l\t0\t${b64(CHANNELS)}`,
            `section\t-c\t0\t${b64(COALESCE)}`,
            "own-absent",
            ...Object.entries(ledgers).flatMap(([path, text]) => ledgerListing(path, text)),
        ].join("\n");

    it("lists each parameter it changes by ethtool's word for it, and the udev rule", function () {
        const plan = planNic(inputs({ rings: { rx: "max" }, channels: { rx: 2 }, coalesce: { adaptiveRx: false, rxUsecs: 10 } }), snapshot(), RULE, "h1");
        assert.deepEqual(nicItems("eth1", plan.record), ["ethtool:eth1:ring:rx", "ethtool:eth1:channel:rx", "ethtool:eth1:coalesce:adaptive-rx", "ethtool:eth1:coalesce:rx-usecs", RULE]);
        const unpersisted = planNic(inputs({ coalesce: { txUsecs: 5 }, persist: false }), snapshot(), RULE, "h1");
        assert.deepEqual(nicItems("eth1", unpersisted.record), ["ethtool:eth1:coalesce:tx-usecs"]);
    });

    it("a create after an interrupted run takes the originals from its ledger, not the tuned live values", function () {
        const path = hostLedgerPath("nic", "p/s/nic");
        const interrupted = planNic(inputs({ rings: { rx: 2048 } }), snapshot(), RULE, "h1");
        const written = ledgerWrite(new Map(), path, "p/s/nic", nicItems("eth1", interrupted.record), interrupted.record, "h1");
        const tuned = parseNicOutput(readOutput(2048, { [path]: written.content! }));
        assert.deepEqual([...tuned.ledgers.keys()], [path]);
        const recovered = recoveredRecord<NicRecord>(tuned.ledgers, path);
        const plan = planNic(inputs({ rings: { rx: 2048 } }), tuned, RULE, "h1", recovered);
        assert.deepEqual(plan.record.originals, { rings: { rx: 256 } });
        assert.deepEqual(planNic(inputs({ rings: { rx: 2048 } }), tuned, RULE, "h1").record.originals, { rings: { rx: 2048 } }, "without it, the tuned value");
    });

    it("refuses a parameter another resource's ledger holds, once, on the first section declared, naming the owner", function () {
        const other = renderHostLedger({ owner: "q/prod/rings", items: ["ethtool:eth1:coalesce:rx-usecs", "/etc/udev/rules.d/90-pulumi-nic-rings.rules"], record: { originals: {} } });
        const snap = parseNicOutput(readOutput(256, { [hostLedgerPath("nic", "q/prod/rings")]: other }));
        const mine = inputs({ coalesce: { rxUsecs: 10, adaptiveRx: false } });
        const plan = planNic(mine, snap, RULE, "h1");
        const failures = ownershipFailures({ kind: "nic", owner: "p/s/nic", ledgers: snap.ledgers, target: "root@h1:22" }, [hostLedgerPath("nic", "p/s/nic")], "nic-unit-host", nicItems("eth1", plan.record), mainProperty(mine));
        assert.deepEqual(failures, [{ property: "coalesce", reason: "root@h1:22: ethtool:eth1:coalesce:rx-usecs is managed by q/prod/rings (its ledger on the host); remove it there first" }]);
        assert.equal(mainProperty(inputs({ channels: { rx: 1 }, coalesce: { rxUsecs: 1 } })), "channels");
    });
});
