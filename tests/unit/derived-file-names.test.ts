import { strict as assert } from "assert";
import { z } from "zod";
import { NAME_MAX, checkFailures, overlongFileName } from "../../provider/check";
import { cpuGovernorInputsSchema } from "../../provider/cpu-governor/schema";
import { irqAffinityInputsSchema } from "../../provider/irq/schema";
import { kernelModuleInputsSchema } from "../../provider/kernel-module/schema";
import { nicOffloadsInputsSchema } from "../../provider/nic-offload/schema";
import { nicRingConfigInputsSchema } from "../../provider/nic/schema";
import { packetSteeringInputsSchema } from "../../provider/packet-steering/schema";
import { sysfsSetInputsSchema } from "../../provider/sysfs/schema";
import { transparentHugepagesInputsSchema } from "../../provider/thp/schema";
import { cpuWakeupLatencyInputsSchema } from "../../provider/wakeup-latency/schema";

describe("file names derived from a resource name", function () {
    it("overlongFileName gives the longest file name's bytes above NAME_MAX, else undefined", function () {
        assert.equal(overlongFileName(`/etc/x/${"a".repeat(NAME_MAX)}`), undefined);
        assert.equal(overlongFileName(`/etc/x/${"a".repeat(NAME_MAX + 1)}`), NAME_MAX + 1);
        assert.equal(overlongFileName(`/${"d".repeat(300)}/short`), 300);
        assert.equal(overlongFileName(`/etc/${"é".repeat(128)}`), 256, "bytes, not characters");
    });

    /** Each resource that persists into a file named after itself, with inputs otherwise valid. */
    const kinds: [string, z.ZodType, Record<string, unknown>, RegExp][] = [
        ["IrqAffinity", irqAffinityInputsSchema, { interface: "eth1", cpus: "1" }, / pulumi-irq-affinity-r+…/],
        ["CpuGovernor", cpuGovernorInputsSchema, { governor: "performance" }, / pulumi-cpu-governor-r+…/],
        ["NicRingConfig", nicRingConfigInputsSchema, { interface: "eth1", rings: { rx: 512 } }, / 90-pulumi-nic-r+…/],
        ["NicOffloads", nicOffloadsInputsSchema, { interface: "eth1", features: { gro: true } }, / 90-pulumi-offload-r+…/],
        ["PacketSteering", packetSteeringInputsSchema, { interface: "eth1", rps: { cpus: "1" } }, / 90-pulumi-steering-r+…/],
        ["SysfsSet", sysfsSetInputsSchema, { settings: { "/sys/kernel/mm/ksm/run": 1 } }, / 90-pulumi-sysfs-r+…/],
        ["TransparentHugepages", transparentHugepagesInputsSchema, { enabled: "madvise" }, / 90-pulumi-thp-r+…/],
        ["CpuWakeupLatency", cpuWakeupLatencyInputsSchema, { cpus: "0", latencyUs: 10 }, / 90-pulumi-wakeup-r+…/],
        ["KernelModule", kernelModuleInputsSchema, { modules: ["dummy"] }, / pulumi-r+…/],
    ];

    for (const [kind, schema, inputs, where] of kinds) {
        it(`${kind}: a 250-character resource name is refused on resourceName, naming the limit; a short one, or persist: false, passes`, function () {
            const failures = checkFailures(schema, { ...inputs, resourceName: "r".repeat(250) });
            assert.deepEqual(
                failures.map((f) => f.property),
                ["resourceName"],
                JSON.stringify(failures),
            );
            assert.match(failures[0].reason, /makes the file name \S+… 2\d\d characters long, above Linux's limit of 255 \(NAME_MAX\): use a shorter resource name$/);
            assert.match(failures[0].reason, where);
            assert.deepEqual(checkFailures(schema, { ...inputs, resourceName: "r".repeat(200) }), []);
            assert.deepEqual(checkFailures(schema, { ...inputs, resourceName: "r".repeat(250), persist: false }), [], "nothing is written under the name");
        });
    }
});
