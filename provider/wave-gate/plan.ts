import type { CounterCondition } from "../counters/rates";
import { shProgram } from "../transport/argv";
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
    // Ansible's own arithmetic (its linear strategy): it halts when failed / batch_size > max_fail_percentage / 100.0.
    let allowed = 0;
    while (allowed < waveSize && !((allowed + 1) / waveSize > percent / 100)) {
        allowed++;
    }
    return allowed;
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

/**
 * The check's wrapper on the host. The environment comes first on stdin, one `NAME=base64` line
 * per variable, so no secret is in an argument (`ps`, sudo's log); what follows is the user's
 * stdin. It reaches the check alone: exported in the subshell that becomes the check, after the
 * wrapper has made its files and found its tools, so a PATH or TMPDIR of the check's own cannot
 * break the wrapper. The command runs under coreutils' timeout with its output in files, so a
 * child it leaves in the background cannot hold the session open past the timeout; the files are
 * printed after. Its own variables are `plt_*`, names the schema refuses for the environment.
 */
const CHECK_PROGRAM = `
plt_count=$2 plt_i=0
while [ "$plt_i" -lt "$plt_count" ]; do
  IFS= read -r plt_line && plt_value=$(printf %s "\${plt_line#*=}" | base64 -d && echo .) || { echo "pulumi-health-check: cannot read the check's environment" >&2; exit 125; }
  plt_i=$((plt_i + 1))
  eval "plt_name_$plt_i=\\\${plt_line%%=*} plt_value_$plt_i=\\\${plt_value%.}"
done
plt_timeout=$(command -v timeout) && plt_sh=$(command -v sh) || { echo "pulumi-health-check: no timeout (coreutils) or sh on this host's PATH" >&2; exit 125; }
plt_out= plt_err=
trap 'rm -f \${plt_out:+"$plt_out"} \${plt_err:+"$plt_err"}' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
plt_out=$(mktemp) && plt_err=$(mktemp) || { echo "pulumi-health-check: cannot make a temporary file for the check's output" >&2; exit 125; }
(
  plt_i=0
  while [ "$plt_i" -lt "$plt_count" ]; do
    plt_i=$((plt_i + 1))
    eval "export \\"\\$plt_name_$plt_i=\\$plt_value_$plt_i\\""
  done
  exec "$plt_timeout" -k 5 "$1" "$plt_sh" -c "$3"
) >"$plt_out" 2>"$plt_err"
plt_status=$?
cat "$plt_out"
cat "$plt_err" >&2
exit $plt_status
`;

/** The gate's command: argv (no secret in it) and the stdin that carries the environment, then the user's stdin. */
export function checkCommand(check: Pick<HealthCheck, "create" | "timeoutSeconds" | "environment" | "stdin">): { argv: string[]; stdin: string } {
    const environment = Object.entries(check.environment ?? {});
    const lines = environment.map(([name, value]) => `${name}=${Buffer.from(value, "utf8").toString("base64")}\n`);
    return { argv: shProgram(CHECK_PROGRAM, "pulumi-health-check", [String(check.timeoutSeconds), String(environment.length), check.create]), stdin: lines.join("") + (check.stdin ?? "") };
}

/** A condition's counter on one host: `IF` in it (`link.IF.rx_dropped`) is the host's NIC; undefined when it has none. */
export function counterOnHost(counter: string, iface: string | undefined): string | undefined {
    const parts = counter.split(".");
    if (!parts.includes("IF")) {
        return counter;
    }
    return iface === undefined ? undefined : parts.map((p) => (p === "IF" ? iface : p)).join(".");
}

/** Each condition's measured rate, by its counter; by `counter over N s` where one counter is judged over several windows. */
export function ratesByCondition(conditions: readonly CounterCondition[], rateOf: (condition: CounterCondition) => number | null): Record<string, number | null> {
    const windows = (counter: string) => new Set(conditions.filter((c) => c.counter === counter).map((c) => c.windowSeconds)).size;
    return Object.fromEntries(conditions.map((c) => [windows(c.counter) > 1 ? `${c.counter} over ${c.windowSeconds} s` : c.counter, rateOf(c)]));
}

export function describeCheckFailure(run: { exitCode: number; timedOut: boolean; output: string }, timeoutSeconds: number): string {
    const why = run.timedOut ? `timed out after ${timeoutSeconds} s` : `exited with status ${run.exitCode}`;
    return `health check ${why}${run.output ? `: ${run.output}` : ""}`;
}
