import { strict as assert } from "assert";
import { fileContent } from "../../provider/host/restore";
import { persistenceDrifted } from "../../provider/lifecycle";
import { netAddLines, ruleStatus } from "../../provider/nic/udev";

const RULE = "/etc/udev/rules.d/90-pulumi-nic-x.rules";

describe("udev rules for an interface", function () {
    it("puts each assignment under the name 80-net-setup-link sets, and under the kernel's name where nothing sets one", function () {
        assert.deepEqual(netAddLines("enp3s0f0", ['ATTR{tx_queue_len}="5000"', 'RUN+="/usr/sbin/ethtool -K enp3s0f0 gro on"']), [
            'ACTION=="add", SUBSYSTEM=="net", NAME=="enp3s0f0", ATTR{tx_queue_len}="5000"',
            'ACTION=="add", SUBSYSTEM=="net", KERNEL=="enp3s0f0", NAME=="", ATTR{tx_queue_len}="5000"',
            'ACTION=="add", SUBSYSTEM=="net", NAME=="enp3s0f0", RUN+="/usr/sbin/ethtool -K enp3s0f0 gro on"',
            'ACTION=="add", SUBSYSTEM=="net", KERNEL=="enp3s0f0", NAME=="", RUN+="/usr/sbin/ethtool -K enp3s0f0 gro on"',
        ]);
    });

    it("tells a rule an earlier version wrote (outdated) from one edited since, both drift", function () {
        const record = { ruleFile: RULE, managedFiles: { originals: {}, written: { [RULE]: fileContent("old\n") }, createdDirs: [] } };
        const on = (content: string | null) => () => (content === null ? null : { content });
        assert.equal(ruleStatus(record, on("new\n"), "new\n"), "in place");
        assert.equal(ruleStatus(record, on("old\n"), "new\n"), "outdated");
        assert.equal(ruleStatus(record, on("admin's\n"), "new\n"), "edited");
        assert.equal(ruleStatus(record, on(null), "new\n"), "missing");
        assert.equal(ruleStatus({ ruleFile: RULE }, on("old\n"), "new\n"), "edited", "state from before written content was kept");
        assert.equal(ruleStatus({}, on("old\n"), "new\n"), "not persisted");
        assert.ok(persistenceDrifted("outdated") && persistenceDrifted("edited"));
    });
});
