import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { applyIrq } from "../../provider/irq/remote";
import type { Transport } from "../../provider/transport/transport";
import { discoverQueueIrqs, parseInterrupts } from "../../provider/irq/discover";
import { bannedIn, withBannedIrqs, withoutBannedIrqs } from "../../provider/irq/irqbalance";
import { FileSnapshot, parseFileSnapshot } from "../../provider/host/files";
import { fileContent } from "../../provider/host/restore";
import { HostIrqView, IrqRecord, deviceUnitName, irqItems, irqbalanceDrift, irqbalanceProblems, irqbalanceRestore, placement, placementProblems, planIrqAffinity, planIrqbalance, renderUnit, viewOf, writtenUnit } from "../../provider/irq/plan";
import { irqAffinityInputsSchema } from "../../provider/irq/schema";
import { checkFailures } from "../../provider/check";

const INTERRUPTS = `           CPU0       CPU1       CPU2       CPU3
  24:          1          0          0          0  IO-APIC   5-edge      ACPI:Ged
 101:          0          0          0          0  PCI-MSIX-0000:3b:00.0   0-edge      eth1
 102:        100          0          0          0  PCI-MSIX-0000:3b:00.0   1-edge      eth1-TxRx-0
 103:        100          0          0          0  PCI-MSIX-0000:3b:00.0   2-edge      eth1-TxRx-1
 104:        100          0          0          0  PCI-MSIX-0000:3b:00.0   3-edge      eth1-TxRx-2
  40:          0          0          0          0  PCI-MSIX-0000:00:01.0   0-edge      virtio0-config
  41:          9          0          0          0  PCI-MSIX-0000:00:01.0   1-edge      virtio0-input.0
  42:          9          0          0          0  PCI-MSIX-0000:00:01.0   2-edge      virtio0-output.0
`;

function view(extra: Partial<HostIrqView> = {}): HostIrqView {
    const interrupts = parseInterrupts(INTERRUPTS);
    return {
        exists: true,
        online: [0, 1, 2, 3],
        discovery: discoverQueueIrqs("eth1", [101, 102, 103, 104], interrupts, "0000:3b:00.0"),
        interrupts,
        numaNode: 0,
        numaCpus: [0, 1],
        affinity: new Map([[102, "0-3"], [103, "0-3"], [104, "0-3"]]),
        irqbalance: { running: false, pids: [], cmdline: [], systemd: false, configFile: "/etc/default/irqbalance", configContent: null },
        ...extra,
    };
}

const inputs = (extra: Record<string, unknown>) => irqAffinityInputsSchema.parse({ interface: "eth1", resourceName: "irq", ...extra });

describe("IRQ discovery", function () {
    it("takes queue vectors from msi_irqs and leaves the misc vector out", function () {
        assert.deepEqual(view().discovery.irqs.map((l) => l.irq), [102, 103, 104]);
        assert.equal(view().discovery.source, "msi_irqs");
    });

    it("falls back to /proc/interrupts names, including virtio's per-device names", function () {
        const interrupts = parseInterrupts(INTERRUPTS);
        assert.deepEqual(discoverQueueIrqs("eth1", undefined, interrupts, undefined).irqs.map((l) => l.irq), [102, 103, 104]);
        assert.deepEqual(discoverQueueIrqs("eth0", [], interrupts, "virtio0").irqs.map((l) => l.name), ["virtio0-input.0", "virtio0-output.0"]);
    });

    it("a bare mlx5_compN, which each port of the card may print, is the interface's only among its own msi_irqs vectors", function () {
        const twoPorts = parseInterrupts(`           CPU0       CPU1
  40:          1          0  PCI-MSIX-0000:3b:00.0   1-edge      mlx5_comp0
  41:          1          0  PCI-MSIX-0000:3b:00.0   2-edge      mlx5_comp1
  60:          1          0  PCI-MSIX-0000:3b:00.1   1-edge      mlx5_comp0
  61:          1          0  PCI-MSIX-0000:3b:00.1   2-edge      mlx5_comp1
  62:          1          0  PCI-MSIX-0000:3b:00.1   3-edge      mlx5_comp2@pci:0000:3b:00.1
`);
        assert.deepEqual(discoverQueueIrqs("ens1f1", [60, 61], twoPorts, "0000:3b:00.1").irqs.map((l) => l.irq), [60, 61]);
        assert.deepEqual(discoverQueueIrqs("ens1f1", undefined, twoPorts, "0000:3b:00.1").irqs.map((l) => l.irq), [62], "from /proc/interrupts alone, only a name with the device is its own");
        const unit = renderUnit("irq", "ens1f1", { "60": "4", "61": "5" }, new Map(twoPorts.map((l) => [l.irq, l.name])));
        assert.match(unit, /echo 4 > \/proc\/irq\/60\/smp_affinity_list/, "a name another IRQ shares: pinned by number");
        assert.doesNotMatch(unit, /mlx5_comp0/);
        assert.match(renderUnit("irq", "ens1f1", { "62": "4" }, new Map(twoPorts.map((l) => [l.irq, l.name]))), /\*" mlx5_comp2@pci:0000:3b:00\.1"\)/);
    });

    it("a vector no action holds yet (its interface down) has no name, not its hardware number: pinned by number", function () {
        const down = parseInterrupts(`           CPU0       CPU1
 130:          0          0  IR-PCI-MSI 1048576-edge
 131:          0          0  IR-PCI-MSI 1048577-edge      eth2-TxRx-0
 132:          0          0  PCI-MSI-edge      eth3
`);
        assert.deepEqual(down.map((l) => l.name), ["", "eth2-TxRx-0", "eth3"], "an old kernel's CHIP-trigger NAME keeps its name");
        assert.deepEqual(discoverQueueIrqs("eth2", [130], down, "0000:3b:00.0").irqs, [{ irq: 130, name: "" }]);
    });

    it("ENA: Tx-Rx queue vectors only, its management vector left out, on x86 and on arm64's trigger column", function () {
        const ena = (trigger: string) => `           CPU0       CPU1
  26:          5          0   ${trigger.replace("%", "0")}      ena-mgmnt@pci:0000:00:05.0
  27:        900          0   ${trigger.replace("%", "1")}      eth0-Tx-Rx-0
  28:          0        800   ${trigger.replace("%", "2")}      eth0-Tx-Rx-1
`;
        for (const text of [ena("PCI-MSIX-0000:00:05.0   %-edge"), ena("ITS-MSI 8192% Edge")]) {
            const interrupts = parseInterrupts(text);
            assert.deepEqual(interrupts.map((l) => l.name), ["ena-mgmnt@pci:0000:00:05.0", "eth0-Tx-Rx-0", "eth0-Tx-Rx-1"]);
            assert.deepEqual(discoverQueueIrqs("eth0", [26, 27, 28], interrupts, "0000:00:05.0").irqs.map((l) => l.irq), [27, 28]);
            assert.deepEqual(discoverQueueIrqs("eth0", undefined, interrupts, undefined).irqs.map((l) => l.irq), [27, 28]);
        }
        const unnamedQueues = parseInterrupts(ena("PCI-MSIX-0000:00:05.0   %-edge").replace(/eth0-Tx-Rx-/g, "q"));
        assert.deepEqual(discoverQueueIrqs("eth0", [26, 27, 28], unnamedQueues, "0000:00:05.0").irqs.map((l) => l.irq), [27, 28], "the management vector is not a queue");
    });
});

describe("IRQ placement", function () {
    it("spreads round-robin over a set, minus excluded CPUs", function () {
        assert.deepEqual(placement(inputs({ spread: "0-3", exclude: "0" }), view(), "h").assignment, { "102": "1", "103": "2", "104": "3" });
    });

    it("puts each receive queue on a CPU of its own first, and a transmit-only IRQ with its queue's receive IRQ (virtio's input.N and output.N)", function () {
        const pairs = [0, 1, 2, 3].flatMap((q) => [`  ${41 + 2 * q}:  0  0  PCI-MSI 4917${q}-edge  virtio0-input.${q}`, `  ${42 + 2 * q}:  0  0  PCI-MSI 4918${q}-edge  virtio0-output.${q}`]);
        const interrupts = parseInterrupts(["           CPU0       CPU1", "  40:  0  0  PCI-MSI 49152-edge  virtio0-config", ...pairs, ""].join("\n"));
        const virtio = view({ discovery: discoverQueueIrqs("eth1", undefined, interrupts, "virtio0"), interrupts });
        assert.equal(virtio.discovery.irqs.length, 8);
        assert.deepEqual(placement(inputs({ spread: "0-3" }), virtio, "h").assignment, {
            "41": "0", "42": "0",
            "43": "1", "44": "1",
            "45": "2", "46": "2",
            "47": "3", "48": "3",
        });
    });

    it("uses the NIC's NUMA node CPUs", function () {
        assert.deepEqual(placement(inputs({ numaLocal: true }), view(), "h").assignment, { "102": "0", "103": "1", "104": "0" });
        const noNuma = placement(inputs({ numaLocal: true }), view({ numaNode: undefined, numaCpus: undefined }), "h");
        assert.ok(noNuma.warnings[0].includes("no NUMA node"));
    });

    it("assigns explicit lists per IRQ number or name", function () {
        assert.deepEqual(placement(inputs({ perIrq: { "eth1-TxRx-0": "2", "104": "3" } }), view(), "h").assignment, { "102": "2", "104": "3" });
        assert.throws(() => placement(inputs({ perIrq: { "999": "1" } }), view(), "h"), /not one of eth1's queue IRQs/);
        assert.throws(() => placement(inputs({ perIrq: { "102": "1,200" } }), view(), "h"), /h: CPU 200 in perIrq\["102"\] is not online on this host \(online: 0-3\)/);
    });

    it("puts an IRQ's original back only while it is still one of the interface's queue IRQs", function () {
        // The driver reloaded: eth1's queues are 110-111 now, and 102 belongs to another device.
        const renumbered = view({ discovery: { ...view().discovery, irqs: [{ irq: 110, name: "eth1-TxRx-0" }, { irq: 111, name: "eth1-TxRx-1" }] }, affinity: new Map([[102, "2"], [110, "0-3"], [111, "0-3"]]) });
        const previous: IrqRecord = { originals: { "102": "0-3", "103": "0-3" } };
        const plan = planIrqAffinity(inputs({ cpus: "1" }), renumbered, parseFileSnapshot(""), "h", previous);
        assert.ok(!plan.writes.some((w) => w.path.includes("/102/")), JSON.stringify(plan.writes));
        assert.match(plan.warnings.join("\n"), /left IRQ 102 as it is: no longer eth1's queue IRQ/);
        assert.deepEqual(Object.keys(plan.record.originals).sort(), ["110", "111"], "the stale original is forgotten");
        const still = planIrqAffinity(inputs({ perIrq: { "102": "1" } }), view({ affinity: new Map([[102, "1"], [103, "2"], [104, "0-3"]]) }), parseFileSnapshot(""), "h", previous);
        assert.deepEqual(still.writes.filter((w) => w.path.includes("/103/")), [{ path: "/proc/irq/103/smp_affinity_list", value: "0-3" }], "a queue IRQ no longer targeted gets its original back");
    });

    it("refuses a mask with no online CPU", function () {
        assert.throws(() => placement(inputs({ cpus: "6-7" }), view(), "h"), /no online CPU left in cpus 6-7 \(online: 0-3\)/);
        assert.throws(() => placement(inputs({ cpus: "2", exclude: "2" }), view(), "h"), /after excluding 2/);
    });

    it("reports at check what placement would refuse, naming the property and the host", function () {
        const target = "root@10.0.0.5:22";
        assert.deepEqual(placementProblems(inputs({ cpus: "1-2" }), view(), target), []);
        assert.deepEqual(placementProblems(inputs({ cpus: "6-7" }), view(), target), [
            { property: "cpus", reason: "root@10.0.0.5:22: no online CPU left in cpus 6-7 (online: 0-3)" },
        ]);
        assert.deepEqual(placementProblems(inputs({ cpus: "1-3" }), view({ online: [0] }), target)[0].property, "cpus");
        const emptied = placementProblems(inputs({ spread: "2-3", exclude: "2-3" }), view(), target);
        assert.deepEqual(emptied.map((f) => f.property), ["spread"]);
        assert.match(emptied[0].reason, /^root@10\.0\.0\.5:22: no online CPU left in spread 2-3 after excluding 2-3/);
        assert.deepEqual(placementProblems(inputs({ numaLocal: true, exclude: "0-1" }), view(), target).map((f) => f.property), ["numaLocal"]);
        assert.deepEqual(placementProblems(inputs({ perIrq: { "103": "6" } }), view(), target).map((f) => f.property), ['perIrq["103"]']);
        assert.deepEqual(placementProblems(inputs({ perIrq: { "999": "1" } }), view(), target).map((f) => f.property), ['perIrq["999"]']);
        // A linked NicRingConfig may add queue IRQs before this resource runs: names are left to up.
        assert.deepEqual(placementProblems(inputs({ perIrq: { "999": "1" }, nicState: { channels: { combined: 8 } } }), view(), target), []);
        assert.deepEqual(placementProblems(inputs({ cpus: "1" }), view({ exists: false }), target).map((f) => f.property), ["interface"]);
    });

    it("requires exactly one policy", function () {
        assert.ok(checkFailures(irqAffinityInputsSchema, { interface: "eth1", resourceName: "x", cpus: "1", spread: "2" }).some((f) => /exactly one/.test(f.reason)));
        assert.ok(checkFailures(irqAffinityInputsSchema, { interface: "eth1", resourceName: "x" }).some((f) => /exactly one/.test(f.reason)));
    });
});

describe("IrqAffinity's boot unit", function () {
    it("waits for the interface's device unit, by systemd's escaped name", function () {
        assert.equal(deviceUnitName("eth1"), "sys-subsystem-net-devices-eth1.device");
        assert.equal(deviceUnitName("br-lan.100"), "sys-subsystem-net-devices-br\\x2dlan.100.device");
        assert.match(renderUnit("irq", "br-lan", {}), /^Wants=sys-subsystem-net-devices-br\\x2dlan\.device network-online\.target$/m);
        assert.match(renderUnit("irq", "eth1", {}), /^After=network-online\.target irqbalance\.service sys-subsystem-net-devices-eth1\.device$/m);
        assert.match(renderUnit("irq", "eth1", {}), /^Wants=sys-subsystem-net-devices-eth1\.device network-online\.target$/m, "most drivers name their queue IRQs only once the link is open");
    });

    it("pins each IRQ by its /proc/interrupts name, by number only when the name is unusable, each pin failing alone", function () {
        const unit = renderUnit("irq", "eth1", { "102": "1", "103": "2" }, new Map([[102, "eth1-TxRx-0"], [103, "odd name"]]));
        const pins = unit.split("\n").filter((l) => l.startsWith("ExecStart"));
        assert.equal(pins.length, 2);
        assert.ok(pins.every((l) => l.startsWith("ExecStart=-/bin/sh -c '")));
        assert.match(pins[0], /case "\$\$rest" in \*" eth1-TxRx-0"\) echo 1 > \/proc\/irq\/\$\$\{irq%%:\}\/smp_affinity_list/);
        assert.equal(pins[1], "ExecStart=-/bin/sh -c 'echo 2 > /proc/irq/103/smp_affinity_list'");
    });

    it("is compared with what was written, so a unit by names is no drift; state from before is rendered by number", function () {
        const byName = renderUnit("irq", "eth1", { "102": "1" }, new Map([[102, "eth1-TxRx-0"]]));
        const record = { managedFiles: { originals: {}, written: { "/u": { kind: "file" as const, content: byName } }, createdDirs: [] } };
        assert.equal(writtenUnit(record, "/u", "irq", "eth1", { "102": "1" }), byName);
        assert.equal(writtenUnit({}, "/u", "irq", "eth1", { "102": "1" }), renderUnit("irq", "eth1", { "102": "1" }));
    });
});

describe("irqbalance handling", function () {
    it("does not take a zombie (empty command line) for a running daemon", function () {
        const snapshot = {
            files: new Map<string, string>(),
            dirs: new Map<string, string[]>(),
            pids: new Map([["irqbalance", [7, 9]]]),
            commands: new Map<string, string>(),
            links: new Map<string, string>(),
            cmdlines: new Map([[9, ["/usr/sbin/irqbalance", "--foreground"]]]),
        };
        const state = viewOf(inputs({ cpus: "1" }), snapshot).irqbalance;
        assert.deepEqual(state.pids, [9]);
        assert.deepEqual(state.cmdline, ["/usr/sbin/irqbalance", "--foreground"]);
    });

    it("on a systemd host, reaches through systemctl only a daemon irqbalance.service runs; one started otherwise is stopped and started itself", function () {
        const view = (cgroup: string | undefined, policy: Record<string, unknown> = {}) =>
            viewOf(
                inputs({ cpus: "1", ...policy }),
                parseFileSnapshot(
                    [
                        "dir\t/run/systemd/system\t",
                        "which\tsystemctl\t/usr/bin/systemctl",
                        "pids\tirqbalance\t9",
                        `cmdline\t9\t${Buffer.from("/usr/sbin/irqbalance\0--foreground\0").toString("base64")}`,
                        ...(cgroup === undefined ? [] : [`cgroup\t9\t${Buffer.from(cgroup).toString("base64")}`]),
                    ].join("\n"),
                ),
            );
        const read = (cgroup: string | undefined) => view(cgroup).irqbalance.systemd;
        assert.equal(read("0::/system.slice/irqbalance.service\n"), true);
        assert.equal(read("12:pids:/system.slice/irqbalance.service\n1:name=systemd:/system.slice/irqbalance.service\n"), true, "cgroup v1");
        assert.equal(read("0::/user.slice/user-0.slice/session-3.scope\n"), false, "started by hand");
        assert.equal(read("0::/system.slice/my-irqbalance.service\n"), false, "another unit");
        assert.equal(read(undefined), true, "no cgroup read: the unit, as before");
    });

    it("refuses at preview to stop or re-ban a daemon another systemd unit runs, which would start it again beside the bans", function () {
        const problems = (cgroup: string, irqbalance: string) => {
            const snapshot = parseFileSnapshot(
                ["dir\t/run/systemd/system\t", "which\tsystemctl\t/usr/bin/systemctl", "pids\tirqbalance\t9", `cmdline\t9\t${Buffer.from("/usr/sbin/irqbalance\0").toString("base64")}`, `cgroup\t9\t${Buffer.from(cgroup).toString("base64")}`].join("\n"),
            );
            const declared = inputs({ cpus: "1", irqbalance });
            return irqbalanceProblems(declared, viewOf(declared, snapshot), "h1");
        };
        assert.deepEqual(problems("0::/system.slice/irqbalance-numa.service\n", "stop"), [
            {
                property: "irqbalance",
                reason: 'h1: irqbalance runs under irqbalance-numa.service, not irqbalance.service, so it cannot be stopped from here without fighting that unit: stop it through irqbalance-numa.service, then set irqbalance: "leave"',
            },
        ]);
        assert.match(problems("0::/system.slice/irqbalance-numa.service/irqbalance\n", "ban")[0]?.reason ?? "", /cannot be restarted with the bans from here without fighting that unit: add --banirq for these IRQs to it through irqbalance-numa\.service/);
        assert.deepEqual(problems("0::/system.slice/irqbalance-numa.service\n", "leave"), [], "leave touches no daemon");
        assert.deepEqual(problems("0::/system.slice/irqbalance.service\n", "stop"), []);
        assert.deepEqual(problems("0::/user.slice/user-0.slice/session-3.scope\n", "ban"), [], "started by hand: stopped and started itself");
        for (const launcher of ["rc-local.service", "cron.service", "ssh.service", "user@0.service/app.slice/x.scope"]) {
            assert.deepEqual(problems(`0::/system.slice/${launcher}\n`, "ban"), [], `${launcher} started it once and will not again`);
        }
    });

    it("adds and removes exactly our bans in IRQBALANCE_ARGS", function () {
        const banned = withBannedIrqs('# comment\nIRQBALANCE_ARGS="--policyscript=/x"\n', [102, 103]);
        assert.match(banned, /^IRQBALANCE_ARGS="--policyscript=\/x --banirq=102 --banirq=103"$/m);
        assert.match(withoutBannedIrqs(banned, [102, 103]), /^IRQBALANCE_ARGS="--policyscript=\/x"$/m);
        assert.equal(withBannedIrqs(null, [5]), 'IRQBALANCE_ARGS="--banirq=5"\n');
    });

    it("edits the IRQBALANCE_ARGS line that counts, the last, as systemd's EnvironmentFile takes it", function () {
        const overridden = 'IRQBALANCE_ARGS="--foo"\n# local override\nIRQBALANCE_ARGS="--bar"\n';
        const banned = withBannedIrqs(overridden, [7]);
        assert.equal(banned, 'IRQBALANCE_ARGS="--foo"\n# local override\nIRQBALANCE_ARGS="--bar --banirq=7"\n');
        assert.deepEqual(bannedIn(banned), [7]);
        assert.deepEqual(bannedIn('IRQBALANCE_ARGS="--banirq=7"\nIRQBALANCE_ARGS=""\n'), [], "a ban an override drops is no ban");
        assert.equal(withoutBannedIrqs(banned, [7]), overridden, "byte for byte");
    });

    it("takes out only the bans it added: the host's own stay, and an IRQ no longer targeted is balanced again", function () {
        const stopped = (configContent: string | null) => view({ irqbalance: { running: false, pids: [], cmdline: [], systemd: true, configFile: "/etc/default/irqbalance", configContent } });
        const admin = '# admin\nIRQBALANCE_ARGS="--banirq=102 --banirq=103"\n';
        const already = planIrqbalance(inputs({ spread: "1-3" }), stopped(admin), [102, 103], undefined, "h");
        assert.equal(already.action.config, undefined, "nothing to add");
        assert.deepEqual(already.record.banned?.added, []);
        assert.deepEqual(irqbalanceRestore(already.record, stopped(admin), { originals: {}, written: {}, createdDirs: [] }), {}, "the admin's bans are not ours to take out");

        const fresh = planIrqbalance(inputs({ spread: "1-3" }), stopped('IRQBALANCE_ARGS="--banirq=104"\n'), [102, 103, 104], undefined, "h");
        assert.deepEqual(fresh.record.banned?.added, [102, 103]);
        // The NIC now has two queues: 104 (the host's own ban) stays banned, 103 (ours) is balanced again.
        const fewer = planIrqbalance(inputs({ spread: "1-3" }), stopped(fresh.action.config!), [102], fresh.record, "h");
        assert.equal(fewer.action.config, 'IRQBALANCE_ARGS="--banirq=104 --banirq=102"\n');
        assert.deepEqual(fewer.record.banned?.added, [102]);
        assert.deepEqual(fewer.record.banned?.irqs, [102]);
    });

    it("restarts a daemon not run by systemd with --banirq, and undoes it on failure", function () {
        const running = view({ irqbalance: { running: true, pids: [77], cmdline: ["/usr/sbin/irqbalance", "--foreground"], systemd: false, configFile: "/etc/default/irqbalance", configContent: null } });
        const plan = planIrqbalance(inputs({ spread: "1-3" }), running, [102, 103], undefined, "h");
        assert.deepEqual(plan.action.start, ["/usr/sbin/irqbalance", "--foreground", "--banirq=102", "--banirq=103"]);
        assert.deepEqual(plan.action.pids, [77]);
        assert.deepEqual(plan.undo.start, ["/usr/sbin/irqbalance", "--foreground"]);
        const after = view({ irqbalance: { ...running.irqbalance, cmdline: plan.action.start!, configContent: plan.action.config! } });
        const restore = irqbalanceRestore(plan.record, after);
        assert.deepEqual(restore.start, ["/usr/sbin/irqbalance", "--foreground"]);
        assert.match(restore.config ?? "", /IRQBALANCE_ARGS=""/);

        // Started by the admin with a ban of its own on one of these IRQs: that ban stays the host's.
        const banning = view({ irqbalance: { ...running.irqbalance, cmdline: ["/usr/sbin/irqbalance", "--banirq=103"] } });
        const own = planIrqbalance(inputs({ spread: "1-3" }), banning, [102, 103], undefined, "h");
        assert.deepEqual(own.action.start, ["/usr/sbin/irqbalance", "--banirq=103", "--banirq=102"]);
        const tuned = view({ irqbalance: { ...banning.irqbalance, cmdline: own.action.start!, configContent: own.action.config! } });
        assert.deepEqual(irqbalanceRestore(own.record, tuned).start, ["/usr/sbin/irqbalance", "--banirq=103"], "delete keeps the admin's ban");
        assert.equal(planIrqbalance(inputs({ spread: "1-3" }), tuned, [102], own.record, "h").action.start, undefined, "nor does an update that stops targeting 103 restart it without");
    });

    it("under stop, a record that took a hand-started daemon for the unit's (systemctl stop left it running) is put right: it is killed, and delete starts it again as it ran", function () {
        const handStarted = view({ irqbalance: { running: true, pids: [77], cmdline: ["/usr/local/sbin/irqbalance", "--foreground"], systemd: false, configFile: "/etc/default/irqbalance", configContent: null } });
        const stale = { policy: "stop" as const, stopped: { systemd: true, cmdline: ["/usr/local/sbin/irqbalance", "--foreground"] } };
        const plan = planIrqbalance(inputs({ cpus: "1", irqbalance: "stop" }), handStarted, [102], stale, "h");
        assert.deepEqual([plan.action.kill, plan.action.pids, plan.action.systemctl], ["pids", [77], undefined]);
        assert.deepEqual(plan.record.stopped, { systemd: false, cmdline: ["/usr/local/sbin/irqbalance", "--foreground"] });
        const stoppedNow = view({ irqbalance: { ...handStarted.irqbalance, running: false, pids: [], cmdline: [] } });
        assert.deepEqual(irqbalanceRestore(plan.record, stoppedNow).start, ["/usr/local/sbin/irqbalance", "--foreground"]);
    });

    it("uses systemctl under systemd, and stop/start for the stop policy", function () {
        const systemd = view({ irqbalance: { running: true, pids: [5], cmdline: ["irqbalance"], systemd: true, configFile: "/etc/default/irqbalance", configContent: "" } });
        assert.equal(planIrqbalance(inputs({ cpus: "1", irqbalance: "ban" }), systemd, [102], undefined, "h").action.systemctl, "try-restart");
        const stop = planIrqbalance(inputs({ cpus: "1", irqbalance: "stop" }), systemd, [102], undefined, "h");
        assert.equal(stop.action.systemctl, "stop");
        assert.match(stop.warnings.join("\n"), /^h: irqbalance is stopped until the next boot, where it starts again and moves the IRQs this boot unit pins/, "persisted (the default): the boot brings it back");
        assert.deepEqual(planIrqbalance(inputs({ cpus: "1", irqbalance: "stop", persist: false }), systemd, [102], undefined, "h").warnings, []);
        const stopped = view({ irqbalance: { ...systemd.irqbalance, running: false, pids: [] } });
        assert.equal(irqbalanceRestore(stop.record, stopped).systemctl, "start");
    });

    it("undoes what a policy switched away from did, as delete would: bans out, a stopped daemon started again", function () {
        const file = "/etc/default/irqbalance";
        const systemd = view({ irqbalance: { running: true, pids: [5], cmdline: ["irqbalance"], systemd: true, configFile: file, configContent: "#IRQBALANCE_ARGS=\n" } });
        const ban = planIrqbalance(inputs({ cpus: "1", irqbalance: "ban" }), systemd, [102], undefined, "h");
        const managed = { originals: { [file]: fileContent("#IRQBALANCE_ARGS=\n") }, written: { [file]: fileContent(ban.action.config!) }, createdDirs: [] };
        const banning = view({ irqbalance: { ...systemd.irqbalance, cmdline: ["irqbalance", "--banirq=102"], configContent: ban.action.config! } });

        const leave = planIrqbalance(inputs({ cpus: "1", irqbalance: "leave" }), banning, [102], ban.record, "h", managed);
        assert.deepEqual(leave.action, { config: "#IRQBALANCE_ARGS=\n", systemctl: "try-restart" }, "the file's own bytes back, the daemon restarted without the ban");
        assert.deepEqual(leave.undo, { config: ban.action.config, systemctl: "try-restart" });
        assert.deepEqual(leave.record, { policy: "leave" });
        assert.match(leave.warnings.join("\n"), /irqbalance is running and will move these IRQs/);

        const stop = planIrqbalance(inputs({ cpus: "1", irqbalance: "stop" }), banning, [102], ban.record, "h", managed);
        assert.deepEqual(stop.action, { config: "#IRQBALANCE_ARGS=\n", systemctl: "stop" });
        assert.deepEqual(stop.record, { policy: "stop", stopped: { systemd: true, cmdline: ["irqbalance"] } }, "delete starts it again, without the bans");

        const stoppedView = view({ irqbalance: { ...systemd.irqbalance, running: false, pids: [], cmdline: [] } });
        const banAgain = planIrqbalance(inputs({ cpus: "1", irqbalance: "ban" }), stoppedView, [102], stop.record, "h");
        assert.deepEqual(banAgain.action, { config: ban.action.config, systemctl: "start" }, "started again, now with the ban");
        assert.deepEqual(banAgain.undo, { config: "#IRQBALANCE_ARGS=\n", systemctl: "stop" });
        assert.equal(banAgain.record.stopped, undefined);
        assert.deepEqual(planIrqbalance(inputs({ cpus: "1", irqbalance: "leave" }), stoppedView, [102], stop.record, "h").action, { systemctl: "start" });

        const daemon = view({ irqbalance: { running: false, pids: [], cmdline: [], systemd: false, configFile: file, configContent: null } });
        const stoppedDaemon = { policy: "stop" as const, stopped: { systemd: false, cmdline: ["/usr/sbin/irqbalance", "--banirq=7"] } };
        assert.deepEqual(planIrqbalance(inputs({ cpus: "1", irqbalance: "ban" }), daemon, [102], stoppedDaemon, "h").action.start, ["/usr/sbin/irqbalance", "--banirq=7", "--banirq=102"], "the host's own ban kept");
        const running = view({ irqbalance: { running: true, pids: [9], cmdline: ["/usr/sbin/irqbalance", "--banirq=7", "--banirq=102"], systemd: false, configFile: file, configContent: null } });
        const ours = { policy: "ban" as const, banned: { irqs: [102], added: [102], configFile: file, systemd: false, cmdline: ["/usr/sbin/irqbalance", "--banirq=7"] } };
        assert.deepEqual(planIrqbalance(inputs({ cpus: "1", irqbalance: "leave" }), running, [102], ours, "h").action, { kill: "pids", pids: [9], start: ["/usr/sbin/irqbalance", "--banirq=7"] });
        const fewer = { ...ours, banned: { ...ours.banned, irqs: [102, 105], added: [102, 105] } };
        const banningBoth = view({ irqbalance: { ...running.irqbalance, cmdline: [...running.irqbalance.cmdline, "--banirq=105"] } });
        assert.deepEqual(planIrqbalance(inputs({ cpus: "1", irqbalance: "ban" }), banningBoth, [102], fewer, "h").action.start, ["/usr/sbin/irqbalance", "--banirq=7", "--banirq=102"], "a ban no longer wanted comes out of the daemon too");
        const olderRecord = { policy: "stop" as const, stopped: { systemd: false, cmdline: ["/usr/sbin/irqbalance", "--banirq=102"] }, banned: ours.banned };
        assert.deepEqual(planIrqbalance(inputs({ cpus: "1", irqbalance: "stop" }), daemon, [102], olderRecord, "h").record.stopped?.cmdline, ["/usr/sbin/irqbalance"], "delete starts it without our bans");
    });

    it("reports irqbalance as drift when it no longer does what the policy left: a ban gone from its file, a stopped daemon running", function () {
        const file = "/etc/default/irqbalance";
        const state = (configContent: string | null, running = false) => ({ running, pids: running ? [7] : [], cmdline: running ? ["/usr/sbin/irqbalance"] : [], systemd: true, configFile: file, configContent });
        const ban = { policy: "ban" as const, banned: { irqs: [102, 103], added: [102, 103], configFile: file, systemd: true, cmdline: [] } };
        assert.deepEqual(irqbalanceDrift(ban, state('IRQBALANCE_ARGS="--banirq=102 --banirq=103"\n')), []);
        assert.deepEqual(irqbalanceDrift(ban, state('IRQBALANCE_ARGS="--banirq=102"\n')), [`${file} no longer bans IRQ 103`]);
        assert.deepEqual(irqbalanceDrift(ban, state(null)), [`${file} no longer bans IRQ 102, 103`]);
        assert.deepEqual(irqbalanceDrift({ policy: "stop" }, state(null, true)), ['irqbalance is running again (irqbalance: "stop")']);
        assert.deepEqual(irqbalanceDrift({ policy: "stop" }, state(null)), []);
        assert.deepEqual(irqbalanceDrift({ policy: "leave" }, state(null, true)), []);
        assert.deepEqual(irqbalanceDrift(undefined, state(null, true)), []);
    });

    it("keeps an edit made to irqbalance's file before an update writes it again: the delete takes out only its bans", function () {
        const file = "/etc/default/irqbalance";
        const original = "# irqbalance\n#IRQBALANCE_ONESHOT=\n";
        const irqbalanceWith = (content: string) => ({ running: false, pids: [], cmdline: [], systemd: true, configFile: file, configContent: content });
        const first = planIrqAffinity(inputs({ cpus: "1" }), view({ irqbalance: irqbalanceWith(original), affinity: new Map([[102, "0-3"], [103, "0-3"], [104, "0-3"]]) }), parseFileSnapshot(""), "h");
        const written = first.irqbalance.action.config!;
        assert.match(written, /--banirq=102 --banirq=103 --banirq=104/);
        const edited = written.replace("#IRQBALANCE_ONESHOT=", "IRQBALANCE_ONESHOT=yes");
        // The admin took 104 out of the bans too: the update writes the file again, with the edit.
        const update = planIrqAffinity(inputs({ cpus: "1" }), view({ irqbalance: irqbalanceWith(edited.replace(" --banirq=104", "")) }), parseFileSnapshot(""), "h", first.record);
        const rewritten = update.irqbalance.action.config!;
        assert.match(rewritten, /^IRQBALANCE_ONESHOT=yes$/m);
        assert.deepEqual(update.record.managedFiles?.originals[file], fileContent(original.replace("#IRQBALANCE_ONESHOT=", "IRQBALANCE_ONESHOT=yes")));
        assert.match(update.warnings.join("\n"), /h: \/etc\/default\/irqbalance was edited since this resource wrote it; the edits stay/);
        const restore = irqbalanceRestore(update.record.irqbalanceState, view({ irqbalance: irqbalanceWith(rewritten) }), update.record.managedFiles, "h");
        assert.equal(restore.config, original.replace("#IRQBALANCE_ONESHOT=", "IRQBALANCE_ONESHOT=yes"), "the edit survives the delete");
        const again = planIrqAffinity(inputs({ cpus: "1" }), view({ irqbalance: irqbalanceWith(rewritten) }), parseFileSnapshot(""), "h", update.record);
        assert.deepEqual(again.record.managedFiles?.originals[file], update.record.managedFiles?.originals[file], "not edited since: the original stands");
        assert.doesNotMatch(again.warnings.join("\n"), /edited since/);
    });

    it("forgets irqbalance's file once a policy switch has put it back, so delete does not write it again", function () {
        const file = "/etc/default/irqbalance";
        const snap = parseFileSnapshot(`file\t${file}\t${Buffer.from('IRQBALANCE_ARGS="--banirq=102"\n').toString("base64")}`);
        const banning = view({ irqbalance: { running: false, pids: [], cmdline: [], systemd: true, configFile: file, configContent: 'IRQBALANCE_ARGS="--banirq=102"\n' } });
        const previous: IrqRecord = {
            originals: { "102": "0-3" },
            irqbalanceState: { policy: "ban", banned: { irqs: [102], added: [102], configFile: file, systemd: true, cmdline: [] } },
            managedFiles: { originals: { [file]: { kind: "absent" } }, written: { [file]: fileContent('IRQBALANCE_ARGS="--banirq=102"\n') }, createdDirs: [] },
        };
        const plan = planIrqAffinity(inputs({ cpus: "1", irqbalance: "leave", persist: false }), banning, snap, "h", previous);
        assert.equal(plan.irqbalance.action.config, null, "the file did not exist: removed");
        assert.equal(plan.record.managedFiles?.originals[file], undefined);
        assert.equal(plan.record.irqbalanceState?.banned, undefined);
    });
});

describe("IrqAffinity's ledger", function () {
    const snapshot = (files: Record<string, string> = {}): FileSnapshot => {
        const read = parseFileSnapshot("");
        Object.entries(files).forEach(([path, content]) => read.files.set(path, content));
        return read;
    };
    const UNIT = "/etc/systemd/system/pulumi-irq-affinity-irq.service";
    const LINK = "/etc/systemd/system/multi-user.target.wants/pulumi-irq-affinity-irq.service";

    it("a create recovering its ledger takes the affinity the interrupted run found, not the tuned value now live", function () {
        const tuned = view({ affinity: new Map([[102, "1"], [103, "2"], [104, "3"]]) });
        const recovered: IrqRecord = { originals: { "102": "0-3", "103": "0-3", "104": "0-3" } };
        const plan = planIrqAffinity(inputs({ spread: "1-3", irqbalance: "leave", persist: false }), tuned, snapshot(), "h", recovered);
        assert.deepEqual(plan.record.originals, { "102": "0-3", "103": "0-3", "104": "0-3" });
        assert.deepEqual(plan.writes, [], "the affinity is already as declared");
        const fresh = planIrqAffinity(inputs({ spread: "1-3", irqbalance: "leave", persist: false }), tuned, snapshot(), "h");
        assert.deepEqual(fresh.record.originals, { "102": "1", "103": "2", "104": "3" }, "without it, the tuned values");
    });

    it("lists each IRQ's affinity file, the unit, its link and irqbalance's file when it bans", function () {
        const plan = planIrqAffinity(inputs({ spread: "1-3" }), view(), snapshot(), "h");
        assert.deepEqual(irqItems(plan.record).sort(), [
            "/etc/default/irqbalance",
            LINK,
            UNIT,
            "/proc/irq/102/smp_affinity_list",
            "/proc/irq/103/smp_affinity_list",
            "/proc/irq/104/smp_affinity_list",
        ]);
    });

    it("claims irqbalance itself under stop, and no file it does not write", function () {
        const plan = planIrqAffinity(inputs({ cpus: "1", irqbalance: "stop", persist: false }), view(), snapshot(), "h");
        assert.deepEqual(irqItems(plan.record).sort(), ["/proc/irq/102/smp_affinity_list", "/proc/irq/103/smp_affinity_list", "/proc/irq/104/smp_affinity_list", "service:irqbalance"]);
        const leave = planIrqAffinity(inputs({ cpus: "1", irqbalance: "leave", persist: false }), view(), snapshot(), "h");
        assert.ok(!irqItems(leave.record).includes("service:irqbalance"));
    });

    it("keeps the unit's original from the recovered record, not the unit the interrupted run wrote", function () {
        const unitWritten = planIrqAffinity(inputs({ cpus: "1", irqbalance: "leave" }), view(), snapshot(), "h");
        assert.deepEqual(unitWritten.record.managedFiles?.originals[UNIT], { kind: "absent" });
        const content = unitWritten.files.write![0].content;
        const now = snapshot({ [UNIT]: content });
        const again = planIrqAffinity(inputs({ cpus: "1", irqbalance: "leave" }), view(), now, "h", unitWritten.record);
        assert.deepEqual(again.record.managedFiles?.originals[UNIT], { kind: "absent" });
    });
});

describe("IrqAffinity's apply program (run with sh here)", function () {
    this.timeout(30_000);

    it("stopped while it waits for irqbalance to go, puts irqbalance's file back rather than failing on a fail it has not yet", async function () {
        const dir = mkdtempSync(path.join(tmpdir(), "plt-irq-"));
        const conf = path.join(dir, "irqbalance");
        writeFileSync(conf, "IRQBALANCE_ARGS=\n");
        // A daemon that ignores TERM: the program waits 5 s for it before KILL, and the time limit comes first.
        const daemon = spawn("sh", ["-c", "trap '' TERM; while :; do sleep 1; done"], { stdio: "ignore" });
        let argv: string[] = [];
        const capture = { target: "h", run: async (words: string[]) => ((argv = words), { code: 0, stdout: "", stderr: "" }) } as unknown as Transport;
        try {
            // The capture's empty output is no report: only the program it was given is wanted here.
            await applyIrq(capture, conf, { config: "IRQBALANCE_ARGS=--banirq=45\n", kill: "pids", pids: [daemon.pid!] }, { config: "IRQBALANCE_ARGS=\n" }, [], {}, undefined).catch(() => undefined);
            const stopped = spawnSync("timeout", ["-k", "5", "1", ...argv], { encoding: "utf8" });
            assert.equal(stopped.status, 124);
            assert.doesNotMatch(stopped.stderr, /not found/);
            assert.match(stopped.stdout, /^failed\t-\tstopped by a signal/m);
            assert.equal(readFileSync(conf, "utf8"), "IRQBALANCE_ARGS=\n", "the environment file is back");
        } finally {
            daemon.kill("SIGKILL");
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
