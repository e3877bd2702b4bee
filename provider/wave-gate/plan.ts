import { FailureBudget, HostVerdict } from "./schema";

/**
 * Failed hosts a wave may have and still let the next one start. A count is the number of
 * hosts; a percentage follows Ansible's max_fail_percentage: the wave stops only when the failed
 * share *exceeds* it, so "25%" of a 4-host wave allows 1. A wave whose every host failed stops
 * regardless (waveOutcome), as an Ansible batch does.
 */
export function allowedFailures(budget: FailureBudget, waveSize: number): number {
    if (typeof budget === "number") {
        return budget;
    }
    const percent = Number(budget.slice(0, -1));
    return Math.floor((percent * waveSize) / 100 + 1e-9);
}

export interface WaveOutcome {
    passed: boolean;
    failed: number;
    allowed: number;
    summary: string;
}

export function waveOutcome(wave: number, verdicts: readonly HostVerdict[], budget: FailureBudget): WaveOutcome {
    const failed = verdicts.filter((v) => v.status !== "applied").length;
    const allowed = allowedFailures(budget, verdicts.length);
    // As Ansible: a batch in which every host failed stops the play, whatever the percentage.
    const passed = failed <= allowed && (failed < verdicts.length || verdicts.length === 0);
    const counts = `${verdicts.length - failed} of ${verdicts.length} hosts healthy, ${failed} failed, budget ${allowed}`;
    return { passed, failed, allowed, summary: `wave ${wave}: ${passed ? "passed" : "halted"}: ${counts}` };
}

/** The last part of a check's output, enough to see why it failed. */
export function outputTail(stdout: string, stderr: string, limit = 2000): string {
    const text = [stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join("\n");
    return text.length > limit ? `…${text.slice(text.length - limit)}` : text;
}

/** The gate's argv: the user's command under sh -c, bounded by coreutils' timeout, with its environment. */
export function checkArgv(command: string, timeoutSeconds: number, environment: Record<string, string> = {}): string[] {
    const env = Object.entries(environment).map(([k, v]) => `${k}=${v}`);
    return ["env", ...env, "timeout", "-k", "5", String(timeoutSeconds), "sh", "-c", command];
}

export function describeCheckFailure(exitCode: number, timeoutSeconds: number, output: string): string {
    const why = exitCode === 124 || exitCode === 137 ? `timed out after ${timeoutSeconds} s` : `exited with status ${exitCode}`;
    return `health check ${why}${output ? `: ${output}` : ""}`;
}
