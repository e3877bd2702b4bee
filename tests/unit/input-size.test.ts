import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { MAX_ENTRIES, MAX_STRING_LENGTH, oversizedInputs, withinEngineLimits } from "../../provider/input-size";

describe("inputs too large for the engine", function () {
    it("names each oversized string, name, object and array by its property path", function () {
        const long = "x".repeat(MAX_STRING_LENGTH + 1);
        assert.deepEqual(oversizedInputs({ modules: ["tcp_bbr", { name: long }], features: { [long]: true }, settings: { "/sys/a": long } }, ""), [
            `modules[1].name: ${MAX_STRING_LENGTH + 1} characters; at most ${MAX_STRING_LENGTH}`,
            `features["${"x".repeat(40)}…"]: the name is ${MAX_STRING_LENGTH + 1} characters; at most ${MAX_STRING_LENGTH}`,
            `settings["/sys/a"]: ${MAX_STRING_LENGTH + 1} characters; at most ${MAX_STRING_LENGTH}`,
        ]);
        assert.deepEqual(oversizedInputs({ cpus: Array(MAX_ENTRIES + 1).fill(0) }, ""), [`cpus: ${MAX_ENTRIES + 1} entries; at most ${MAX_ENTRIES}`]);
        assert.deepEqual(oversizedInputs({ interface: "eth1", txqueuelen: 10000, features: { gro: true }, late: pulumi.output("x".repeat(MAX_STRING_LENGTH + 1)) }, ""), []);
    });

    it("lets what fits through unchanged and refuses the rest as a RunError naming the resource", function () {
        const key = "k".repeat(MAX_STRING_LENGTH + 1);
        const inputs = { interface: "eth1", connection: { host: "h", privateKey: key, proxy: { host: "b", password: key } } };
        assert.equal(withinEngineLimits("NicOffloads", "nic", inputs), inputs, "a connection's secrets are their own schema's business");
        assert.throws(
            () => withinEngineLimits("SysctlSet", "s", { connection: { host: "h", ["x".repeat(100000)]: 1, proxy: { host: "h".repeat(100000) } } }),
            (e: Error) =>
                e instanceof pulumi.RunError &&
                e.message === `SysctlSet "s": connection["${"x".repeat(40)}…"]: the name is 100000 characters; at most ${MAX_STRING_LENGTH}; connection.proxy.host: 100000 characters; at most ${MAX_STRING_LENGTH}`,
        );
        assert.throws(
            () => withinEngineLimits("KernelModule", "mods", { modules: ["m".repeat(100000)] }),
            (e: Error) => e instanceof pulumi.RunError && e.message === `KernelModule "mods": modules[0]: 100000 characters; at most ${MAX_STRING_LENGTH}`,
        );
    });
});
