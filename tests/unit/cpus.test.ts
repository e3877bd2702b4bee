import { strict as assert } from "assert";
import { formatCpuList, parseCpuList, sameCpuList } from "../../provider/cpus";

describe("CPU lists", function () {
    it("parses and formats ranges", function () {
        assert.deepEqual(parseCpuList("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11]);
        assert.equal(formatCpuList([11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
        assert.equal(formatCpuList([]), "");
        assert.ok(sameCpuList("0,1,2", "0-2"));
        assert.ok(!sameCpuList("0-2", "0-3"));
    });

    it("refuses what is not a CPU list", function () {
        assert.throws(() => parseCpuList("0-3;reboot"), /not a CPU list/);
        assert.throws(() => parseCpuList("3-1"), /descending/);
    });
});
