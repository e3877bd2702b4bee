import { strict as assert } from "assert";
import { parseFileSnapshot } from "../../provider/host/files";
import { nicNuma, nicNumaRequests } from "../../provider/nic-numa";

const NET = "/sys/class/net/eth1";
const file = (path: string, text: string) => `file\t${path}\t${Buffer.from(text).toString("base64")}`;
const NODES = [file("/sys/devices/system/node/node0/cpulist", "0-3\n"), file("/sys/devices/system/node/node1/cpulist", "4-7\n")];
const numaOf = (...lines: string[]) => nicNuma(parseFileSnapshot([...lines, ...NODES].join("\n")), NET);

describe("A NIC's NUMA node", function () {
    it("is read from the device's own numa_node, and its parent's as well", function () {
        assert.deepEqual(nicNumaRequests(NET).slice(0, 2), [`${NET}/device/numa_node`, `${NET}/device/../numa_node`]);
    });

    it("is a PCI NIC's own, even where its bridge reports another", function () {
        assert.deepEqual(numaOf(file(`${NET}/device/numa_node`, "1\n"), file(`${NET}/device/../numa_node`, "0\n")), { numaNode: 1, numaCpus: [4, 5, 6, 7] });
        assert.deepEqual(numaOf(file(`${NET}/device/numa_node`, "-1\n"), file(`${NET}/device/../numa_node`, "0\n")), {}, "-1 is the device's own answer: no node");
    });

    it("is a virtio NIC's PCI function's, as virtioN has no numa_node", function () {
        assert.deepEqual(numaOf(file(`${NET}/device/../numa_node`, "1\n")), { numaNode: 1, numaCpus: [4, 5, 6, 7] });
    });

    it("is none when neither reports one, and has no CPUs when the node's list is missing", function () {
        assert.deepEqual(numaOf(), {});
        assert.deepEqual(numaOf(file(`${NET}/device/numa_node`, "2\n")), { numaNode: 2 });
    });
});
