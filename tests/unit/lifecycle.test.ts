import { strict as assert } from "assert";
import { z } from "zod";
import { parseChecked } from "../../provider/check";
import { APPLY_COUNT, REPLACE_HOST, applyEntryPoints, diffResource } from "../../provider/lifecycle";
import { optionalConnectionSchema } from "../../provider/transport/connection";
import { UNKNOWN } from "../../provider/unknowns";

describe("applyEntryPoints: every apply counted, a refresh keeping the count", function () {
    const entryPoints = applyEntryPoints(
        async (raw: Record<string, unknown>) => ({ hostId: "h", value: raw.value }),
        (olds) => olds,
        ["resourceName"],
        async (id, props) => ({ id, props: { hostId: "h", value: "read back", [APPLY_COUNT]: "dropped by the refresh" } }),
    );

    it("counts 1 at create and one more at each update, whatever the update changes", async function () {
        const created = await entryPoints.create({ resourceName: "x", value: 1 });
        assert.equal(created.id, "h#x");
        assert.equal(created.outs[APPLY_COUNT], 1);
        const updated = await entryPoints.update(created.id, created.outs, { resourceName: "x", value: 1 });
        assert.equal(updated.outs![APPLY_COUNT], 2);
        assert.equal((await entryPoints.update(created.id, updated.outs!, { resourceName: "x", value: 2 })).outs![APPLY_COUNT], 3);
    });

    it("a refresh returns the live values with the recorded count, and none for state from before counting", async function () {
        const refreshed = await entryPoints.read("h#x", { hostId: "h", value: "stale", [APPLY_COUNT]: 4 });
        assert.equal(refreshed.props!.value, "read back");
        assert.equal(refreshed.props![APPLY_COUNT], 4);
        assert.ok(!(APPLY_COUNT in (await entryPoints.read("h#x", { hostId: "h" })).props!));
        assert.equal((await entryPoints.update("h#x", { hostId: "h" }, { resourceName: "x" })).outs![APPLY_COUNT], 1);
    });
});

describe("diffResource: what decides replace, update or a live read", function () {
    const schema = z.object({ connection: optionalConnectionSchema, interface: z.string(), count: z.number() });
    type Inputs = z.infer<typeof schema>;
    const host = { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAA", privateKey: "old key" };
    const olds = { connection: host, interface: "eth1", count: 1 };
    let probes = 0;
    const diff = (news: Record<string, unknown>) =>
        diffResource<Inputs>({
            olds,
            news,
            parse: (props) => parseChecked(schema, props),
            identity: ["interface"],
            fields: ["count"],
            recordedDrift: () => false,
            probe: async () => {
                probes++;
                return [];
            },
        });
    beforeEach(() => (probes = 0));

    it("an input not known yet is an update, not a parse of the engine's placeholder", async function () {
        assert.deepEqual(await diff({ ...olds, count: UNKNOWN }), { changes: true });
    });

    it("an identity input not known yet, or changed beside an unknown, replaces", async function () {
        assert.deepEqual(await diff({ ...olds, interface: UNKNOWN }), { changes: true, replaces: ["interface"], deleteBeforeReplace: true });
        assert.deepEqual(await diff({ ...olds, interface: "eth2", count: UNKNOWN }), { changes: true, replaces: ["interface"], deleteBeforeReplace: true });
    });

    it("a connection value not known yet replaces only when it is which machine; an unknown key is an update", async function () {
        assert.deepEqual(await diff({ ...olds, connection: { ...host, privateKey: UNKNOWN } }), { changes: true });
        assert.deepEqual(await diff({ ...olds, connection: { ...host, host: UNKNOWN } }), REPLACE_HOST);
        assert.deepEqual(await diff({ ...olds, connection: { ...host, proxy: { host: UNKNOWN } } }), REPLACE_HOST);
        assert.deepEqual(await diff({ ...olds, connection: { ...host, port: 2222, privateKey: UNKNOWN } }), REPLACE_HOST);
        assert.deepEqual(await diff({ ...olds, connection: UNKNOWN }), REPLACE_HOST);
        assert.equal(probes, 0);
    });

    it("a key not known yet beside a changed interface replaces, at preview as the known key will at up", async function () {
        assert.deepEqual(await diff({ ...olds, interface: "eth2", connection: { ...host, privateKey: UNKNOWN } }), { changes: true, replaces: ["interface"], deleteBeforeReplace: true });
        assert.deepEqual(await diff({ ...olds, interface: "eth2", connection: { ...host, privateKey: "new key" } }), { changes: true, replaces: ["interface"], deleteBeforeReplace: true });
    });

    it("new credentials to the same host are an update, so state and a later destroy use them; the same inputs read the host", async function () {
        assert.deepEqual(await diff({ ...olds, connection: { ...host, privateKey: "rotated key" } }), { changes: true });
        assert.equal(probes, 0);
        assert.deepEqual(await diff({ ...olds, connection: { ...host, port: 2222 } }), REPLACE_HOST);
        assert.deepEqual(await diff(olds), { changes: false });
        assert.equal(probes, 1);
    });

    it("a new commandTimeout is no change on the host: the live read decides, and a fleet does not roll out again for it", async function () {
        assert.deepEqual(await diff({ ...olds, connection: { ...host, commandTimeout: 120 } }), { changes: false });
        assert.equal(probes, 1);
    });
});
