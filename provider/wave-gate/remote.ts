import { sleep } from "../sleep";
import type { Transport } from "../transport/transport";
import { checkCommand, outputTail, redactSecrets, secretsOf } from "./plan";
import { HealthCheck } from "./schema";

export interface CheckRun {
    exitCode: number;
    output: string;
    attempts: number;
}

/** Runs the user's check until it passes or the retries are spent. */
export async function runHealthCheck(transport: Transport, check: HealthCheck): Promise<CheckRun> {
    let last: CheckRun = { exitCode: -1, output: "", attempts: 0 };
    const secrets = secretsOf(check);
    for (let attempt = 1; attempt <= check.retries + 1; attempt++) {
        if (attempt > 1) {
            await sleep(check.retryDelaySeconds);
        }
        const { argv, stdin } = checkCommand(check);
        // Its own `timeout` stops the check; the command around it gets that long and a margin.
        const result = await transport.run(argv, stdin, { minimumLimitSeconds: check.timeoutSeconds + 10 });
        const output = outputTail(redactSecrets(result.stdout, secrets), redactSecrets(result.stderr, secrets));
        last = { exitCode: result.code, output, attempts: attempt };
        if (result.code === 0) {
            break;
        }
    }
    return last;
}
