import { strict as assert } from "assert";
import { HighConnectionRateProfile } from "../../components";
import { diagnoseHost } from "../../components/evidence";
import { connectionSchema, transportFor } from "../../provider/transport";
import { labStack } from "./engine";
import { Lab, LabHost, connectionTo, labDown, labUp, listenBurst, netCounter, setSysctlOn, sysctlOn } from "./lab";

const OVERFLOWS = "TcpExt.ListenOverflows";

describe("evidence: listen overflows before and after HighConnectionRateProfile on a lab host", function () {
    this.timeout(10 * 60 * 1000);
    let lab: Lab;
    let host: LabHost;

    before(function () {
        lab = labUp(1);
        [host] = lab.hosts;
        // A host tuned badly: every listen() backlog capped at 16.
        setSysctlOn(lab, host, "net.core.somaxconn", "16");
    });
    after(function () {
        if (lab) {
            labDown(lab);
        }
    });

    /** Overflows one 3-second burst causes, counted on the host outside the product. */
    async function overflowsOfABurst(): Promise<number> {
        const start = netCounter(lab, host, OVERFLOWS);
        await listenBurst(lab, host, 3);
        return netCounter(lab, host, OVERFLOWS) - start;
    }

    it("a burst raises ListenOverflows, the diagnosis names somaxconn, and after the profile the same burst raises none; its outputs show before vs now", async function () {
        const untuned = await overflowsOfABurst();
        assert.ok(untuned > 50, `the untuned host overflows (${untuned})`);

        const burst = listenBurst(lab, host, 6);
        const diagnosis = await diagnoseHost(transportFor(connectionSchema.parse(connectionTo(lab, host))), "eth1", 3);
        await burst;
        const finding = diagnosis.findings.find((f) => f.counter === OVERFLOWS);
        assert.ok(finding, JSON.stringify(diagnosis.findings));
        assert.match(finding.knob, /net\.core\.somaxconn/);
        assert.equal(finding.settings["net.core.somaxconn"], "16");

        const stack = await labStack("evidence-hcr", async () => {
            const profile = new HighConnectionRateProfile("hcr", { connection: connectionTo(lab, host), connectionsPerSecond: 20000, evidence: { windowSeconds: 3 } });
            return { before: profile.evidence!.before, now: profile.evidence!.now };
        });
        try {
            // The baseline is measured while the burst runs, before the profile writes anything.
            const during = listenBurst(lab, host, 6);
            const up = await stack.up();
            await during;
            const before = up.outputs.before.value as Record<string, number>;
            assert.ok(before[OVERFLOWS] > 10, `before: ${JSON.stringify(before)}`);
            assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "4096");

            const tuned = await overflowsOfABurst();
            assert.ok(tuned < untuned / 10, `the same burst: ${untuned} overflows untuned, ${tuned} tuned`);

            const again = listenBurst(lab, host, 6);
            const refreshed = await stack.up({ refresh: true });
            await again;
            const now = refreshed.outputs.now.value as Record<string, number>;
            assert.ok(now[OVERFLOWS] < before[OVERFLOWS] / 10, `now ${now[OVERFLOWS]}/s vs before ${before[OVERFLOWS]}/s`);
        } finally {
            await stack.destroy();
        }
        assert.equal(sysctlOn(lab, host, "net.core.somaxconn"), "16", "destroy restores the host's own value");
    });
});
