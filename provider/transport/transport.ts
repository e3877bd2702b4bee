export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs argument vectors on one host. Implementations: local child processes, or SSH. */
export interface Transport {
    /** Human-readable target, used in every error message ("root@10.0.0.5:22", "local"). */
    readonly target: string;
    /** Runs argv; `stdin` is written to the command's standard input, which is closed either way. */
    run(argv: readonly string[], stdin?: string): Promise<CommandResult>;
}

export class RemoteCommandError extends Error {
    constructor(target: string, argv0: string, result: CommandResult) {
        const detail = (result.stderr || result.stdout).trim();
        super(`${target}: ${argv0} exited with status ${result.code}${detail ? `: ${detail}` : ""}`);
    }
}
