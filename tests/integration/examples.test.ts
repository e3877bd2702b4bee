import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { labStack } from "./engine";
import { Lab, labDown, labUp } from "./lab";

/** Runs a program from examples/ as `pulumi up` would: evaluated afresh on every engine run. */
function exampleProgram(dir: string) {
    const entry = path.resolve(__dirname, "../../examples", dir);
    return async () => {
        delete require.cache[require.resolve(entry)];
        return require(entry);
    };
}

describe("examples run against a lab host", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;

    before(function () {
        lab = labUp(1);
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    const single = (lab: Lab, extra: Record<string, string> = {}) => ({
        host: { value: lab.hosts[0].address },
        hostKey: { value: lab.hosts[0].hostKey },
        sshPrivateKey: { value: readFileSync(lab.privateKeyPath, "utf8"), secret: true },
        ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { value: v }])),
    });

    const examples: { dir: string; config: (lab: Lab) => Record<string, { value: string; secret?: boolean }> }[] = [
        { dir: "sysctl-basic", config: (lab) => ({ hosts: { value: JSON.stringify([{ host: lab.hosts[0].address, hostKey: lab.hosts[0].hostKey }]) }, sshPrivateKey: single(lab).sshPrivateKey }) },
        { dir: "nic-and-irqs", config: (lab) => single(lab, { applicationCpus: "0" }) },
        { dir: "sip-router-profile", config: (lab) => single(lab, { memoryGiB: "8" }) },
        { dir: "low-latency-composed", config: (lab) => single(lab) },
    ];

    for (const example of examples) {
        it(`examples/${example.dir}: up, a clean preview, destroy`, async function () {
            const stack = await labStack(`example-${example.dir}`, exampleProgram(example.dir));
            await stack.setAllConfig(example.config(lab));
            const up = await stack.up();
            assert.equal(up.summary.result, "succeeded");
            assert.ok(Object.keys(up.outputs).length > 0, "the example exports what it did");
            const preview = await stack.preview();
            assert.deepEqual(Object.keys(preview.changeSummary).sort(), ["same"], JSON.stringify(preview.changeSummary));
            const destroy = await stack.destroy();
            assert.equal(destroy.summary.result, "succeeded");
        });
    }
});
