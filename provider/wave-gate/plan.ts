import { FailureBudget, HealthCheck, HostVerdict } from "./schema";

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

const SECRET_MIN_LENGTH = 8;

/**
 * What the check's output must never show: its environment values and its stdin (whole, then
 * each line), longest first; they are secret in state too. Values under 8 characters (a port, a
 * count, DEBUG=1) are left: too common in any output to hide, and too short for a credential.
 */
export function secretsOf(check: Pick<HealthCheck, "environment" | "stdin">): string[] {
    const stdin = check.stdin ? [check.stdin, ...check.stdin.split("\n")] : [];
    const values = [...Object.values(check.environment ?? {}), ...stdin].filter((v) => v.length >= SECRET_MIN_LENGTH);
    return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** The output with every secret replaced by "[secret]", before it reaches state, outputs or a message. */
export function redactSecrets(output: string, secrets: readonly string[]): string {
    return secrets.reduce((text, secret) => text.split(secret).join("[secret]"), output);
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
