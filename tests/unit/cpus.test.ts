import { strict as assert } from "assert";
import { MAX_CPU, cpuListProblem, formatCpuList, isCpuList, parseCpuList, sameCpuList } from "../../provider/cpus";
import { checkFailures } from "../../provider/check";
import { cpuGovernorInputsSchema } from "../../provider/cpu-governor/schema";
import { irqAffinityInputsSchema } from "../../provider/irq/schema";

describe("CPU lists", function () {
    it("parses and formats ranges", function () {
        assert.deepEqual(parseCpuList("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11]);
        assert.deepEqual(parseCpuList(" 0 , 2-3 \n"), [0, 2, 3]);
        assert.deepEqual(parseCpuList(""), [], "an empty kernel file is the empty set");
        assert.equal(formatCpuList([11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
        assert.equal(formatCpuList([]), "");
        assert.ok(sameCpuList("0,1,2", "0-2"));
        assert.ok(!sameCpuList("0-2", "0-3"));
    });

    it("refuses what is not a CPU list", function () {
        assert.throws(() => parseCpuList("0-3;reboot"), /not a CPU list/);
        assert.throws(() => parseCpuList("3-1"), /descending/);
    });

    it("says what is wrong: descending ranges, CPUs above NR_CPUS, empty elements, non-numbers", function () {
        assert.match(cpuListProblem("3-0") ?? "", /descending range 3-0; write 0-3/);
        assert.match(cpuListProblem("0-99999999999") ?? "", /names CPU 99999999999, above 8191/);
        assert.match(cpuListProblem(`${MAX_CPU + 1}`) ?? "", /above 8191/);
        assert.equal(cpuListProblem(`0-${MAX_CPU}`), undefined);
        assert.deepEqual(parseCpuList("000002-03"), [2, 3], "leading zeros are numbers, not large ones");
        for (const empty of ["0,,1", ",0", "0,", ","]) {
            assert.match(cpuListProblem(empty) ?? "", /empty element/, empty);
        }
        assert.match(cpuListProblem("") ?? "", /must not be empty/);
        assert.match(cpuListProblem("   ") ?? "", /must not be empty/);
        for (const bad of ["0-", "-3", "0-1-2", "a", "0x3", "1.5", "0 - 3", "$(reboot)", "1e3"]) {
            assert.match(cpuListProblem(bad) ?? "", /not a CPU list/, bad);
            assert.ok(!isCpuList(bad), bad);
        }
    });

    it("keeps messages short for huge inputs", function () {
        const problem = cpuListProblem("0," + "1".repeat(5000)) ?? "";
        assert.ok(problem.length < 300, problem);
    });

    it("is the grammar of every CPU-list input, each failure naming its property once", function () {
        const irq = checkFailures(irqAffinityInputsSchema, { interface: "eth1", resourceName: "x", cpus: "3-0", exclude: "0-99999999999" });
        assert.deepEqual(
            irq.map((f) => f.property),
            ["cpus", "exclude"],
        );
        assert.match(irq[0].reason, /descending/);
        assert.match(irq[1].reason, /above 8191/);
        const perIrq = checkFailures(irqAffinityInputsSchema, { interface: "eth1", resourceName: "x", perIrq: { "102": "1,,2" } });
        assert.deepEqual(perIrq.map((f) => f.property), ['perIrq["102"]']);
        const governor = checkFailures(cpuGovernorInputsSchema, { resourceName: "g", governor: "performance", cpus: "5-2" });
        assert.deepEqual(governor.map((f) => f.property), ["cpus"]);
    });
});
