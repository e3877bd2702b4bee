/**
 * Commands are argument vectors. SSH carries a single command line that the remote login shell
 * splits again, so every element is quoted on the way out: nothing a user typed is ever parsed
 * as shell syntax.
 */
const SAFE_WORD = /^[A-Za-z0-9_\/.,:=@%+-]+$/;

export function shellQuote(word: string): string {
    if (word.includes("\0")) {
        throw new Error("a command argument contains a NUL byte");
    }
    if (SAFE_WORD.test(word)) {
        return word;
    }
    return "'" + word.replace(/'/g, "'\\''") + "'";
}

export function toCommandLine(argv: readonly string[]): string {
    if (argv.length === 0) {
        throw new Error("empty command");
    }
    return argv.map(shellQuote).join(" ");
}

/** Linux's limit on one argument (MAX_ARG_STRLEN: 32 pages), its NUL included. */
export const MAX_ARGUMENT_BYTES = 131072;

/**
 * Refuses, before anything runs, a command with an argument the host's kernel would refuse with
 * E2BIG ("Argument list too long"): over SSH the whole command line is one argument of the remote
 * shell. The message says what to do instead of what execve said.
 */
export function checkArgumentSizes(target: string, words: readonly string[]): void {
    for (const word of words) {
        const bytes = Buffer.byteLength(word);
        if (bytes >= MAX_ARGUMENT_BYTES) {
            throw new Error(`${target}: this operation would pass the host ${bytes} bytes in one argument, above the ${MAX_ARGUMENT_BYTES - 1} Linux takes; nothing was run. The resource sets too much at once: split it into several.`);
        }
    }
}

/** Runs a fixed POSIX sh program with user data only as positional parameters ($1, $2, ...). */
export function shProgram(script: string, name: string, args: readonly string[]): string[] {
    return ["sh", "-c", script, name, ...args];
}
