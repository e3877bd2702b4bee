import { sleep } from "../sleep";
import { Transport, stoppedAtLimit } from "../transport/transport";
import { checkCommand, outputTail, redactSecrets, secretsOf } from "./plan";
import { HealthCheck } from "./schema";

export interface CheckRun {
    exitCode: number;
    output: string;
    attempts: number;
    /** The last attempt ran into timeoutSeconds (an exit of 124 or 137 that came sooner is the check's own). */
    timedOut: boolean;
}

/**
 * Runs the user's check until it passes or the retries are spent. An attempt that could not run
 * (the host unreachable for a moment after its tuning) is retried as a failed one is; the last
 * attempt's error is the verdict's.
 */
export async function runHealthCheck(transport: Transport, check: HealthCheck): Promise<CheckRun> {
    let last: CheckRun = { exitCode: -1, output: "", attempts: 0, timedOut: false };
    const secrets = secretsOf(check);
    const attempts = check.retries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
        if (attempt > 1) {
            await sleep(check.retryDelaySeconds);
        }
        const { argv, stdin } = checkCommand(check);
        const started = Date.now();
        try {
            // Its own `timeout` stops the check; the command around it gets that long and a margin.
            const result = await transport.run(argv, stdin, { minimumLimitSeconds: check.timeoutSeconds + 10 });
            const output = outputTail(redactSecrets(result.stdout, secrets), redactSecrets(result.stderr, secrets));
            last = { exitCode: result.code, output, attempts: attempt, timedOut: stoppedAtLimit(result, Date.now() - started, check.timeoutSeconds) };
        } catch (e) {
            if (attempt === attempts) {
                throw e;
            }
            continue;
        }
        if (last.exitCode === 0) {
            break;
        }
    }
    return last;
}
