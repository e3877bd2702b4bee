import { execFile } from "child_process";
import { checkArgumentSizes } from "./argv";
import { CONTROLLER_GRACE_SECONDS, CommandResult, CommandTimeoutError, DEFAULT_COMMAND_TIMEOUT_SECONDS, RunOptions, Transport, limitFor, signalStatus, stoppedAtLimit, underTimeLimit } from "./transport";

/** The machine running `pulumi`: commands are spawned directly, no shell involved. */
export class LocalTransport implements Transport {
    readonly target = "local";

    constructor(
        private readonly sudo: boolean,
        private readonly commandTimeout = DEFAULT_COMMAND_TIMEOUT_SECONDS,
    ) {}

    run(argv: readonly string[], stdin?: string, options?: RunOptions): Promise<CommandResult> {
        const seconds = limitFor(this.commandTimeout, options);
        const limited = underTimeLimit(argv, seconds);
        const full = this.sudo ? ["sudo", "-n", "--", ...limited] : limited;
        const started = Date.now();
        return new Promise((resolve, reject) => {
            checkArgumentSizes(this.target, full);
            const backstop = { timeout: (seconds + CONTROLLER_GRACE_SECONDS) * 1000, killSignal: "SIGKILL" as const };
            const child = execFile(full[0], full.slice(1), { maxBuffer: 64 * 1024 * 1024, ...backstop }, (error, stdout, stderr) => {
                if (error?.killed) {
                    reject(new CommandTimeoutError(this.target, argv, seconds, true));
                    return;
                }
                if (error && typeof error.code !== "number" && !error.signal) {
                    reject(new Error(`local: cannot run ${full[0]}: ${error.message}`));
                    return;
                }
                const code = !error ? 0 : typeof error.code === "number" ? error.code : signalStatus(error.signal as string);
                const result = { code, stdout, stderr };
                if (stoppedAtLimit(result, Date.now() - started, seconds)) {
                    reject(new CommandTimeoutError(this.target, argv, seconds, false));
                    return;
                }
                resolve(result);
            });
            child.stdin?.on("error", () => undefined);
            child.stdin?.end(stdin ?? "");
        });
    }
}
