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

/** Runs a fixed POSIX sh program with user data only as positional parameters ($1, $2, ...). */
export function shProgram(script: string, name: string, args: readonly string[]): string[] {
    return ["sh", "-c", script, name, ...args];
}
