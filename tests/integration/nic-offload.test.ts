import { strict as assert } from "assert";
import type { Stack } from "@pulumi/pulumi/automation";
import { NicOffloads } from "../../provider";
import { assertNoChanges, collect, expectFailure } from "./support";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, failingEthtool, fileOn, fixedEthtoolFeature, labDown, labUp, onHost } from "./lab";

/** What NicOffloads can touch, one line per item: everything under /etc (type, mode, owner, SHA-256), eth1's features, its queue length. */
const HOST_STATE = String.raw`
find /etc -xdev \( -type f -o -type d -o -type l \) -printf '%y %m %U:%G %p -> %l\n' | sort
find /etc -xdev -type f -print0 | xargs -0 sha256sum | sort -k 2
ethtool -k eth1
printf 'tx_queue_len %s\n' "$(cat /sys/class/net/eth1/tx_queue_len)"
`;

describe("NicOffloads through the real engine on a lab host's veth", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let host: LabHost;
    it("a delete leaves, with a warning naming its original, a feature the driver now holds [fixed]", async function () {
        const before = state();
        const stack = await labStack("nic-offloads-fixed", async () => {
            new NicOffloads("fixed", { connection: connectionTo(lab, host), interface: "eth1", features: { gro: true }, persist: false });
        });
        await stack.up();
        const restore = fixedEthtoolFeature(lab, host, "generic-receive-offload", "on");
        try {
            assert.match(features(), /^generic-receive-offload: on \[fixed\]$/m);
            const out = collect();
            await stack.destroy({ onOutput: out.onOutput });
            assert.match(out.text(), /left eth1's generic-receive-offload on: it is fixed now, so its original off cannot go back/);
        } finally {
            restore();
        }
        assert.match(features(), /^generic-receive-offload: on$/m, "left as it was");
        onHost(lab, host, ["ethtool", "-K", "eth1", "gro", "off"]);
        assert.equal(state(), before);
    });

    const rule = "/etc/udev/rules.d/90-pulumi-offload-offloads.rules";

    const state = () => onHost(lab, host, ["sh", "-c", HOST_STATE]);
    const features = () => onHost(lab, host, ["ethtool", "-k", "eth1"]);
    const queueLength = () => onHost(lab, host, ["cat", "/sys/class/net/eth1/tx_queue_len"]).trim();

    before(function () {
        lab = labUp(1);
        [host] = lab.hosts;
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    describe("up, drift, converge, destroy", function () {
        let stack: Stack;
        let original: string;

        before(async function () {
            original = state();
            assert.match(original, /^generic-receive-offload: off$/m);
            assert.match(original, /^tcp-segmentation-offload: on$/m);
            assert.match(original, /^tx_queue_len 1000$/m);
            stack = await labStack("nic-offloads", async () => {
                const offloads = new NicOffloads("offloads", {
                    connection: connectionTo(lab, host),
                    interface: "eth1",
                    features: { gro: true, tso: false, "tx-nocache-copy": true, "large-receive-offload": false },
                    txqueuelen: 5000,
                });
                return { desired: offloads.desired };
            });
        });
        after(async () => {
            await stack?.destroy().catch(() => undefined);
        });

        it("sets the features (a group as each member) and txqueuelen, and writes a udev rule", async function () {
            const result = await stack.up();
            const now = features();
            assert.match(now, /^generic-receive-offload: on$/m);
            assert.match(now, /^tcp-segmentation-offload: off$/m);
            for (const member of ["tx-tcp-segmentation", "tx-tcp-ecn-segmentation", "tx-tcp-mangleid-segmentation", "tx-tcp6-segmentation"]) {
                assert.match(now, new RegExp(`^\\t${member}: off$`, "m"));
            }
            assert.match(now, /^tx-nocache-copy: on$/m);
            assert.equal(queueLength(), "5000");
            assert.equal(result.outputs.desired.value.features["generic-receive-offload"], true);
            assert.equal(result.outputs.desired.value.features["large-receive-offload"], undefined, "off [fixed] already: nothing to manage");
            const written = fileOn(lab, host, rule) ?? "";
            const lines = written.split("\n");
            for (const match of ['NAME=="eth1"', 'KERNEL=="eth1", NAME==""']) {
                const start = `ACTION=="add", SUBSYSTEM=="net", ${match}, `;
                assert.ok(lines.some((l) => l.startsWith(`${start}RUN+="`) && /ethtool -K eth1 generic-receive-offload on tx-nocache-copy on tx-tcp-accecn-segmentation off/.test(l)), `${match}: ethtool -K`);
                assert.ok(lines.includes(`${start}ATTR{tx_queue_len}="5000"`), `${match}: tx_queue_len`);
            }
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("shows a change behind Pulumi's back per item, and up converges", async function () {
            onHost(lab, host, ["ethtool", "-K", "eth1", "gro", "off", "tx-tcp6-segmentation", "on"]);
            onHost(lab, host, ["ip", "link", "set", "dev", "eth1", "txqueuelen", "1000"]);
            const plain = collect();
            assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1);
            assert.match(plain.text(), /drift: eth1 generic-receive-offload live off, desired on; eth1 tx-tcp6-segmentation live on, desired off; eth1 txqueuelen live 1000, desired 5000/);
            const refreshed = collect();
            await stack.preview({ refresh: true, diff: true, onOutput: refreshed.onOutput });
            assert.match(refreshed.text(), /generic-receive-offload\s*:\s*true\s*=>\s*false/);
            assert.match(refreshed.text(), /tx-tcp6-segmentation\s*:\s*false\s*=>\s*true/);
            assert.match(refreshed.text(), /txqueuelen\s*:\s*5000\s*=>\s*1000/);
            const converge = await stack.up();
            assert.equal(converge.summary.resourceChanges?.update, 1);
            assert.match(features(), /^generic-receive-offload: on$/m);
            assert.match(features(), /^\ttx-tcp6-segmentation: off$/m);
            assert.equal(queueLength(), "5000");
            assertNoChanges((await stack.preview()).changeSummary);
        });

        it("destroy restores every feature and the queue length and removes the rule: /etc byte for byte", async function () {
            await stack.destroy();
            assert.equal(fileOn(lab, host, rule), null);
            assert.equal(state(), original);
        });
    });

    it("an update that drops a feature or the queue length (the largest) puts it back as it was before", async function () {
        const before = state();
        let declared: Record<string, boolean> = { gro: true, "rx-udp-gro-forwarding": true };
        // The largest length the kernel reads back as written.
        let txqueuelen: number | undefined = 2147483647;
        const stack = await labStack("nic-offloads-update", async () => {
            new NicOffloads("update", { connection: connectionTo(lab, host), interface: "eth1", features: declared, txqueuelen });
        });
        await stack.up();
        assert.equal(queueLength(), "2147483647");
        assert.match(features(), /^generic-receive-offload: on$/m);
        assert.match(features(), /^rx-udp-gro-forwarding: on$/m);
        declared = { "rx-udp-gro-forwarding": true };
        txqueuelen = undefined;
        await stack.up();
        assert.match(features(), /^generic-receive-offload: off$/m);
        assert.match(features(), /^rx-udp-gro-forwarding: on$/m);
        assert.equal(queueLength(), "1000");
        assertNoChanges((await stack.preview()).changeSummary);
        await stack.destroy();
        assert.equal(state(), before);
    });

    it("an up or a delete while ethtool -k fails keeps the originals, and destroy puts them back once it works again", async function () {
        const before = state();
        const stack = await labStack("nic-offloads-blind", async () => {
            new NicOffloads("blind", { connection: connectionTo(lab, host), interface: "eth1", features: { gro: true }, onUnsupported: "skip", persist: false });
        });
        await stack.up();
        assert.match(features(), /^generic-receive-offload: on$/m);
        // As a driver that cannot list its features: ethtool -k fails, the rest of ethtool works.
        const restore = failingEthtool(lab, host, "-k", "Cannot get device feature names: Operation not supported", 95);
        try {
            assert.throws(() => features(), /Operation not supported/);
            const out = collect();
            await stack.up({ onOutput: out.onOutput });
            assert.match(out.text(), /skipped features on eth1/);
            // A delete now could not put GRO back: it fails, and the ledger keeps the original.
            assert.match(await expectFailure(stack.destroy()), /cannot put back the originals of eth1's features \(ethtool -k: .*Operation not supported\)\. Nothing was changed, and the host-side ledger keeps them/);
        } finally {
            restore();
        }
        assert.match(features(), /^generic-receive-offload: on$/m);
        await stack.destroy();
        assert.equal(state(), before, "GRO back off: the original outlived the blind up and the refused delete");
    });

    it("refuses a [fixed] feature and an unknown one in preview, naming the property and the host, with nothing written", async function () {
        const before = state();
        const stack = await labStack("nic-offloads-refused", async () => {
            new NicOffloads("refused", { connection: connectionTo(lab, host), interface: "eth1", features: { lro: true, "no-such-offload": true, gro: true }, txqueuelen: 4000 });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, new RegExp(`property features\\.lro value .* has a problem: large-receive-offload is off \\[fixed\\] on eth1 of root@${host.address.replace(/\./g, "\\.")}:${host.port} and cannot be turned on`));
        assert.match(message, /property features\["no-such-offload"\] value .* has a problem: eth1 of root@\S+ has no feature no-such-offload/);
        assert.equal(state(), before);
        assert.match(await expectFailure(stack.up()), /features\.lro/);
        assert.equal(state(), before);
    });

    it("refuses at preview TSO declared on with scatter-gather off, which the kernel would keep off, naming the property and the host", async function () {
        const before = state();
        const stack = await labStack("nic-offloads-needs-sg", async () => {
            new NicOffloads("needs-sg", { connection: connectionTo(lab, host), interface: "eth1", features: { sg: false, tso: true } });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, /features\.tso value .* has a problem: tx-tcp-segmentation needs tx-scatter-gather on eth1 of root@[\d.]+:22, which will be off/);
        assert.equal(state(), before);
        // The kernel's own answer on the host: TSO goes off with sg, without an error.
        onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "off", "tso", "on"]);
        const withoutSg = features();
        onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "on"]);
        assert.match(withoutSg, /^\ttx-tcp-segmentation: off \[requested on\]$/m);
        assert.equal(state(), before);
    });

    it("refuses at preview an update whose dropped feature goes back to an original the declared TSO cannot do without", async function () {
        // The admin had sg off; this resource turns it on with TSO, then stops declaring sg.
        onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "off"]);
        try {
            const before = state();
            let declared: Record<string, boolean> = { sg: true, tso: true };
            const stack = await labStack("nic-offloads-sg-put-back", async () => {
                new NicOffloads("sg-back", { connection: connectionTo(lab, host), interface: "eth1", features: declared, persist: false });
            });
            try {
                await stack.up();
                assert.match(features(), /^scatter-gather: on$/m);
                const tuned = state();
                declared = { tso: true };
                const message = await expectFailure(stack.preview());
                assert.match(message, /features\.tso value .* has a problem: tx-tcp-segmentation needs tx-scatter-gather on eth1 of root@[\d.]+:22, which will be off \(tx-scatter-gather no longer declared: put back to its original\)/);
                assert.equal(state(), tuned, "nothing written by the refused preview");
                declared = { sg: true, tso: true };
            } finally {
                await stack.destroy();
            }
            assert.equal(state(), before, "sg off again, as the admin left it");
        } finally {
            onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "on"]);
        }
    });

    it("refuses at preview TSO declared on with every transmit checksum off, which the kernel would keep off", async function () {
        const before = state();
        const stack = await labStack("nic-offloads-needs-csum", async () => {
            new NicOffloads("needs-csum", { connection: connectionTo(lab, host), interface: "eth1", features: { "tx-checksum-ip-generic": false, tso: true } });
        });
        const message = await expectFailure(stack.preview());
        assert.match(message, /features\.tso value .* has a problem: tx-tcp-segmentation needs tx-checksum-ipv4 or tx-checksum-ip-generic on eth1 of root@[\d.]+:22, which will be off/);
        assert.equal(state(), before);
        // The kernel's own answer on the host: TSO goes off with the last checksum offload, without an error.
        onHost(lab, host, ["ethtool", "-K", "eth1", "tx-checksum-ip-generic", "off"]);
        const withoutCsum = features();
        onHost(lab, host, ["ethtool", "-K", "eth1", "tx-checksum-ip-generic", "on"]);
        assert.match(withoutCsum, /^\ttx-tcp-segmentation: off \[requested on\]$/m);
        assert.equal(state(), before);
    });

    it("a feature held off but requested on (GSO with sg off) is asked off when declared so, not brought back by sg on; destroy puts the request back byte for byte", async function () {
        // The host's admin turned sg off: GSO shows "off [requested on]".
        onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "off"]);
        try {
            const before = state();
            assert.match(before, /^generic-segmentation-offload: off \[requested on\]$/m);
            const stack = await labStack("nic-offloads-requested", async () => {
                new NicOffloads("requested", { connection: connectionTo(lab, host), interface: "eth1", features: { sg: true, gso: false }, persist: false });
            });
            try {
                await stack.up();
                assert.match(features(), /^scatter-gather: on$/m);
                assert.match(features(), /^generic-segmentation-offload: off$/m, "asked off, not on as requested before");
                assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
            } finally {
                await stack.destroy();
            }
            assert.equal(state(), before, "sg off and GSO's request on, as the admin left them");
        } finally {
            onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "on"]);
        }
    });

    it("a feature declared off and requested on behind Pulumi's back, held off only by what it depends on, is drift: preview names the request and up asks it off again", async function () {
        const before = state();
        const stack = await labStack("nic-offloads-request-drift", async () => {
            new NicOffloads("request-drift", { connection: connectionTo(lab, host), interface: "eth1", features: { sg: false, gso: false }, persist: false });
        });
        try {
            await stack.up();
            assert.match(features(), /^generic-segmentation-offload: off$/m);
            // Someone asks GSO on: with sg off the kernel keeps it off, and turns it on the moment sg is.
            // ethtool says "Could not change any device features" and exits 1: the request is recorded all the same.
            onHost(lab, host, ["sh", "-c", "ethtool -K eth1 gso on; true"]);
            assert.match(features(), /^generic-segmentation-offload: off \[requested on\]$/m);
            const plain = collect();
            assert.equal((await stack.preview({ onOutput: plain.onOutput })).changeSummary.update, 1);
            assert.match(plain.text(), /drift: eth1 generic-segmentation-offload live off \[requested on\], desired off/);
            const refreshed = collect();
            assert.equal((await stack.preview({ refresh: true, onOutput: refreshed.onOutput })).changeSummary.update, 1, "and after a refresh");
            await stack.up();
            assert.match(features(), /^generic-segmentation-offload: off$/m, "asked off again");
            assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
        } finally {
            await stack.destroy();
        }
        assert.equal(state(), before, "sg and GSO as they were");
    });

    it("an update that stops declaring a feature the kernel holds off puts its request back, and so does destroy, and both succeed though it stays off", async function () {
        onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "off"]);
        try {
            const before = state();
            // ethtool exits 1 ("Could not change any device features") when the only request is one the kernel holds off.
            const gro = /^generic-receive-offload: on/m.test(features());
            let declared: Record<string, boolean> = { gso: false, gro };
            const stack = await labStack("nic-offloads-requested-dropped", async () => {
                new NicOffloads("dropped", { connection: connectionTo(lab, host), interface: "eth1", features: declared, persist: false });
            });
            try {
                await stack.up();
                assert.match(features(), /^generic-segmentation-offload: off$/m, "its request now off too");
                declared = { gro };
                await stack.up();
                assert.match(features(), /^generic-segmentation-offload: off \[requested on\]$/m, "the request is back; sg off still holds it off");
                assertNoChanges((await stack.preview({ refresh: true })).changeSummary);
                declared = { gso: false, gro };
                await stack.up();
                assert.match(features(), /^generic-segmentation-offload: off$/m);
                await stack.destroy();
                assert.equal(state(), before, "destroy put the request back");
            } finally {
                await stack.destroy();
            }
            assert.equal(state(), before);
        } finally {
            onHost(lab, host, ["ethtool", "-K", "eth1", "sg", "on"]);
        }
    });

    it("a feature the kernel silently keeps off fails the up, naming it, with what was written rolled back", async function () {
        const before = state();
        const stack = await labStack("nic-offloads-silent", async () => {
            // ECN segmentation alone, without the plain TSO it rides on: the kernel drops it without an error (a rule preview does not foresee).
            const tsoOff = { "tx-tcp-segmentation": false, "tx-tcp6-segmentation": false, "tx-tcp-mangleid-segmentation": false };
            new NicOffloads("silent", { connection: connectionTo(lab, host), interface: "eth1", features: { ...tsoOff, "tx-tcp-ecn-segmentation": true } });
        });
        await stack.preview();
        const message = await expectFailure(stack.up());
        assert.match(message, /ethtool -K eth1: the driver \(or a feature it depends on\) refused tx-tcp-ecn-segmentation on \(it is off\); ethtool said: Actual changes:/);
        assert.match(message, /the host is as it was/);
        assert.equal(state(), before);
        await stack.destroy();
    });
});
