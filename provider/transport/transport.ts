import { constants } from "os";

export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface RunOptions {
    /** A command meant to take long (a user's health check): its limit is never below this. */
    minimumLimitSeconds?: number;
}

/** Runs argument vectors on one host. Implementations: local child processes, or SSH. */
export interface Transport {
    /** Human-readable target, used in every error message ("root@10.0.0.5:22", "local"). */
    readonly target: string;
    /**
     * The machine and the way there, where the target alone does not say it: two VPCs' 10.0.0.5,
     * each behind its own bastion, are two hosts. What a read kept for a host is keyed by.
     */
    readonly identity?: string;
    /**
     * Runs argv; `stdin` is written to the command's standard input, which is closed either way.
     * A command still running at the connection's commandTimeout is stopped on the host and fails
     * with a CommandTimeoutError.
     */
    run(argv: readonly string[], stdin?: string, options?: RunOptions): Promise<CommandResult>;
}

export class RemoteCommandError extends Error {
    constructor(target: string, argv0: string, result: CommandResult) {
        const detail = (result.stderr || result.stdout).trim();
        super(`${target}: ${argv0} exited with status ${result.code}${detail ? `: ${detail}` : ""}`);
    }
}

export class HostConnectError extends Error {
    /**
     * `setting`: the connection field that dooms every try — `hostKey`, `user` (a refused login),
     * `privateKey`, `privateKeyPassword`, or one of the bastion's (`proxy.hostKey`) — when there
     * is one; then no other try would do better.
     */
    constructor(
        message: string,
        readonly setting?: string,
    ) {
        super(message);
    }
}

/** A connection that failed for its own settings (host key, login, private key), not for the network: the same on every try. */
export const isRefusedConnection = (e: unknown): e is HostConnectError & { setting: string } => e instanceof HostConnectError && e.setting !== undefined;

/** The default commandTimeout: far above what any of our commands takes on a healthy host. */
export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 300;

/** After TERM at the limit, what a command gets to clean up (its traps) before KILL. */
const KILL_AFTER_SECONDS = 5;

/**
 * How long past the limit the controller waits for the host to report the command's end before it
 * stops waiting: for a host that stopped answering, or a process the kernel cannot kill.
 */
export const CONTROLLER_GRACE_SECONDS = KILL_AFTER_SECONDS + 10;

/**
 * The command under coreutils' `timeout`, on the host itself: the limit holds there whatever
 * becomes of the connection, and the whole process group is signalled, so nothing the command
 * started outlives it.
 */
export function underTimeLimit(argv: readonly string[], seconds: number): string[] {
    return ["timeout", "-k", String(KILL_AFTER_SECONDS), String(seconds), ...argv];
}

/** One command's limit: the connection's, or a longer one the command asks for. */
export interface TimeLimit {
    seconds: number;
    /** Whose limit it is, for the message. */
    source: "commandTimeout" | "asked";
}

export function limitFor(commandTimeout: number, options?: RunOptions): TimeLimit {
    const asked = options?.minimumLimitSeconds ?? 0;
    return asked > commandTimeout ? { seconds: asked, source: "asked" } : { seconds: commandTimeout, source: "commandTimeout" };
}

/**
 * Whether `timeout` stopped the command: its statuses (124 after TERM, 137 after KILL) only once
 * the limit has passed, since the command may exit with 124 itself. The controller's clock
 * started before the host's, so it has always seen at least the host's time.
 */
export function stoppedAtLimit(result: CommandResult, elapsedMs: number, seconds: number): boolean {
    return (result.code === 124 || result.code === 137) && elapsedMs >= seconds * 1000;
}

/** A shell's status for a process killed by a signal: 128 + its number (137 for KILL). */
export function signalStatus(signal: string): number {
    const name = (signal.startsWith("SIG") ? signal : `SIG${signal}`) as keyof typeof constants.signals;
    return 128 + (constants.signals[name] ?? 0);
}

/** What names the command in messages: a fixed program's $0 (`pulumi-sysctl-apply`), else argv[0]. */
export function commandName(argv: readonly string[]): string {
    return argv[0] === "sh" && argv[1] === "-c" && argv[3] !== undefined ? argv[3] : argv[0];
}

export class CommandTimeoutError extends Error {
    constructor(target: string, argv: readonly string[], limit: TimeLimit, hostSilent: boolean) {
        const how = hostSilent
            ? `and had not ended ${CONTROLLER_GRACE_SECONDS} s later (its output still open: a process the kernel cannot kill, or one left holding it)`
            : "and was stopped on the host";
        const whose = limit.source === "commandTimeout" ? "the connection's commandTimeout" : "the time it asked for";
        const advice =
            limit.source === "commandTimeout"
                ? " A read that hangs points at a device or file that blocks (see the host's kernel log); " +
                  "an apply puts back what it had written in the 5 s it has before the KILL; what it could not is recorded in the host's ledger, from which the next up or destroy puts it back."
                : "";
        super(`${target}: ${commandName(argv)} did not finish within ${limit.seconds} s (${whose}) ${how}.${advice}`);
    }
}
