import { strict as assert } from "assert";
import { nicResizes, unlinkedFollower } from "../../provider/nic/followers";

describe("a NicRingConfig and what follows its queues, in one program", function () {
    const nic = { kind: "nic", owner: "p/s/rings" };
    const irqs = { kind: "irq", owner: "p/s/irqs", undoneBy: ["rings", "channels"] as const };
    const steering = { kind: "packet-steering", owner: "p/s/steer", undoneBy: ["channels"] as const };

    it("refuses an unlinked IrqAffinity on an interface the NIC resizes, whichever is checked first", function () {
        assert.deepEqual(nicResizes("a:22", "eth1", nic, ["rings"]), []);
        assert.match(unlinkedFollower("a:22", "eth1", irqs) ?? "", /^p\/s\/rings \(NicRingConfig\) in this program changes eth1's rings, which undoes this; pass it as nic/);
        assert.equal(unlinkedFollower("b:22", "eth1", irqs), undefined, "first on its host");
        assert.deepEqual(nicResizes("b:22", "eth1", nic, ["rings", "channels"]), [
            "eth1's rings and channels change would undo what p/s/irqs (IrqAffinity) in this program sets on it; pass this NicRingConfig as its nic (or in its dependsOn), so it applies after every change",
        ]);
    });

    it("leaves alone what the NIC's change does not undo, another interface, and a NIC that only sets coalescing", function () {
        assert.deepEqual(nicResizes("c:22", "eth1", nic, ["rings"]), []);
        assert.equal(unlinkedFollower("c:22", "eth1", steering), undefined, "a ring change keeps the queues");
        assert.equal(unlinkedFollower("c:22", "eth2", irqs), undefined);
        assert.deepEqual(nicResizes("d:22", "eth1", nic, []), []);
        assert.equal(unlinkedFollower("d:22", "eth1", irqs), undefined);
        assert.deepEqual(nicResizes("e:22", "eth1", nic, ["channels"]), []);
        assert.match(unlinkedFollower("e:22", "eth1", steering) ?? "", /changes eth1's channels/);
    });
});
