import { strict as assert } from "assert";
import { APPLY_COUNT, applyEntryPoints } from "../../provider/lifecycle";

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
