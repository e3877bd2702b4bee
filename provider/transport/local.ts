import { execFile } from "child_process";
import { checkArgumentSizes } from "./argv";
import {
    CONTROLLER_GRACE_SECONDS,
    CommandResult,
    CommandTimeoutError,
    DEFAULT_COMMAND_TIMEOUT_SECONDS,
    RunOptions,
    Transport,
    commandName,
    limitFor,
    signalStatus,
    stoppedAtLimit,
    underTimeLimit,
} from "./transport";

/** The machine running `pulumi`: commands are spawned directly, no shell involved. */
export class LocalTransport implements Transport {
    readonly target = "local";

    constructor(
        private readonly sudo: boolean,
        private readonly commandTimeout = DEFAULT_COMMAND_TIMEOUT_SECONDS,
    ) {}

    run(argv: readonly string[], stdin?: string, options?: RunOptions): Promise<CommandResult> {
        const limit = limitFor(this.commandTimeout, options);
        const limited = underTimeLimit(argv, limit.seconds);
        const full = this.sudo ? ["sudo", "-n", "--", ...limited] : limited;
        const started = Date.now();
        return new Promise((resolve, reject) => {
            checkArgumentSizes(this.target, full);
            let settled = false;
            const settle = (outcome: () => void) => {
                if (!settled) {
                    settled = true;
                    clearTimeout(backstop);
                    outcome();
                }
            };
            const child = execFile(full[0], full.slice(1), { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
                if (error && typeof error.code !== "number" && !error.signal) {
                    settle(() => reject(new Error(`local: cannot run ${commandName(argv)}: ${error.message}`)));
                    return;
                }
                const code = !error ? 0 : typeof error.code === "number" ? error.code : signalStatus(error.signal as string);
                const result = { code, stdout, stderr };
                settle(() => (stoppedAtLimit(result, Date.now() - started, limit.seconds) ? reject(new CommandTimeoutError(this.target, argv, limit, false)) : resolve(result)));
            });
            // `timeout` stops the command; this is for one whose output a process it started still holds open.
            const backstop = setTimeout(() => {
                settle(() => reject(new CommandTimeoutError(this.target, argv, limit, true)));
                child.kill("SIGKILL");
                child.stdout?.destroy();
                child.stderr?.destroy();
            }, (limit.seconds + CONTROLLER_GRACE_SECONDS) * 1000);
            child.stdin?.on("error", () => undefined);
            child.stdin?.end(stdin ?? "");
        });
    }
}
