import type * as dynamic from "@pulumi/pulumi/dynamic";
import { withoutEngineKeys } from "../check";
import { containsUnknown } from "../unknowns";
import type { HostVerdict } from "./schema";

/**
 * The rollout's verdict, after the last gate: a wave that did not pass fails the engine run, so
 * `pulumi up` exits non-zero, while every gate's findings are already in state and outputs.
 */

interface WaveResult {
    wave: number;
    passed: boolean;
    outcome: string;
    results: HostVerdict[];
}

/**
 * Why the run fails, or undefined when every wave passed. `gateOf` names a single host's gate
 * (a profile's), which has no later waves to hold.
 */
export function haltMessage(waves: readonly WaveResult[], gateOf?: string): string | undefined {
    const halted = waves.find((w) => !w.passed && w.results.some((r) => !r.status.startsWith("not attempted")));
    if (!halted) {
        return undefined;
    }
    const failures = halted.results.filter((r) => r.status.startsWith("failed")).map((r) => `  ${r.host}: ${r.status}`);
    if (gateOf !== undefined) {
        return `health gate of ${gateOf} failed:\n${failures.join("\n")}\nThe tuning stays applied: fix the host or the tuning and run \`pulumi up\` again (\`pulumi destroy\` undoes it).`;
    }
    const held = waves.filter((w) => w.wave > halted.wave).reduce((n, w) => n + w.results.length, 0);
    return `rollout halted: ${halted.outcome}\n${failures.join("\n")}\n${held} host(s) in later waves were not touched in this run; fix and run \`pulumi up\` again to resume.`;
}

/** `haltFailsRun: false` (the rollout command's): a halt is recorded, not thrown, so the run goes on to its deletes. */
function judge(news: Record<string, unknown>): Record<string, unknown> {
    const waves = (news.waves as WaveResult[]) ?? [];
    const gateOf = typeof news.gateOf === "string" ? news.gateOf : undefined;
    const message = haltMessage(waves, gateOf);
    if (message && news.haltFailsRun !== false) {
        throw new Error(message);
    }
    const passed = gateOf !== undefined ? `health gate of ${gateOf} passed` : `${waves.length} wave(s) passed`;
    return { waves, ...(news.haltFailsRun !== undefined ? { haltFailsRun: news.haltFailsRun } : {}), outcome: message ?? passed, halted: message !== undefined };
}

export async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.CheckResult> {
    return { inputs: news, failures: [] };
}

export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const { waves, haltFailsRun } = withoutEngineKeys(news);
    // A halt only recorded is judged again at every run, so a plain `pulumi up` after it fails as it should.
    return { changes: containsUnknown(waves) || JSON.stringify(olds.waves) !== JSON.stringify(waves) || olds.halted === true || olds.haltFailsRun !== haltFailsRun };
}

export async function create(news: Record<string, unknown>): Promise<dynamic.CreateResult> {
    return { id: "rollout", outs: judge(withoutEngineKeys(news)) };
}

export async function update(_id: string, _olds: Record<string, unknown>, news: Record<string, unknown>): Promise<dynamic.UpdateResult> {
    return { outs: judge(withoutEngineKeys(news)) };
}

export async function read(id: string, props: Record<string, unknown>): Promise<dynamic.ReadResult> {
    return { id, props: withoutEngineKeys(props) };
}

export async function remove(): Promise<void> {
    // Nothing on any host.
}
