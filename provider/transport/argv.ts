/**
 * Commands are argument vectors. SSH carries a single command line that the remote login shell
 * splits again, so every element is quoted on the way out: nothing a user typed is ever parsed
 * as shell syntax.
 */
// Not starting with "=": zsh, as a login shell, reads a word "=cmd" as the path of cmd.
const SAFE_WORD = /^[A-Za-z0-9_\/.,:@%+-][A-Za-z0-9_\/.,:=@%+-]*$/;

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
 * What one command passes in all: well under Linux's usual limit (ARG_MAX, a quarter of the
 * 8 MiB stack limit), which the environment shares.
 */
export const MAX_COMMAND_BYTES = 1 << 20;

/**
 * Refuses, before anything runs, a command the host's kernel would refuse with E2BIG ("Argument
 * list too long"): an argument of 128 KiB or more, or too many bytes in all. The message says
 * what to do instead of what execve said.
 */
export function checkArgumentSizes(target: string, words: readonly string[]): void {
    let total = 0;
    for (const word of words) {
        const bytes = Buffer.byteLength(word);
        if (bytes >= MAX_ARGUMENT_BYTES) {
            throw new Error(`${target}: this operation would pass the host ${bytes} bytes in one argument, above the ${MAX_ARGUMENT_BYTES - 1} Linux takes; nothing was run. The resource sets too much at once: split it into several.`);
        }
        total += bytes + 1;
    }
    if (total >= MAX_COMMAND_BYTES) {
        throw new Error(`${target}: this operation would pass the host ${total} bytes of arguments, above the ${MAX_COMMAND_BYTES - 1} one command is given; nothing was run. The resource sets too much at once: split it into several.`);
    }
}

/**
 * Ends what travels on stdin, as a shell comment after the last word. A connection cut while it
 * is sent closes the remote stdin as cleanly as the end does, and a cut between two words would
 * leave a shorter command (`4096` as `40`) that still runs: without this mark, nothing runs.
 */
const END_OF_INPUT = " # pulumi-linux-tuning: end";

/** Sh text: exits 125, running nothing, unless `$variable` ends with END_OF_INPUT. */
const refuseUnlessWhole = (variable: string) =>
    `case $${variable} in *"${END_OF_INPUT}") ;; *) echo "incomplete input: the connection ended before the whole command arrived; nothing was run" >&2; exit 125 ;; esac`;

/**
 * The remote command that runs a command line sent on its standard input: for one too long to be
 * the single argument of the remote login shell that SSH makes of it. The line is read whole
 * before it runs, and what it runs reads no leftover of it.
 */
export const COMMAND_LINE_FROM_STDIN = `sh -c 'line=$(cat) && ${refuseUnlessWhole("line")} && exec </dev/null && eval "$line"'`;

/**
 * How an SSH command travels: as the exec request's command line, or (when that is too long for
 * the remote shell's one argument and the command takes no input) on stdin, so that only each word
 * must fit. Refuses what the host would refuse either way.
 */
export function sshCommand(target: string, argv: readonly string[], stdin: string | undefined): { command: string; stdin: string } {
    const commandLine = toCommandLine(argv);
    if (stdin === undefined && Buffer.byteLength(commandLine) >= MAX_ARGUMENT_BYTES) {
        checkArgumentSizes(target, argv);
        return { command: COMMAND_LINE_FROM_STDIN, stdin: commandLine + END_OF_INPUT };
    }
    checkArgumentSizes(target, [commandLine]);
    return { command: commandLine, stdin: stdin ?? "" };
}

/** Runs a fixed POSIX sh program with user data only as positional parameters ($1, $2, ...). */
export function shProgram(script: string, name: string, args: readonly string[]): string[] {
    return ["sh", "-c", script, name, ...args];
}

/**
 * As shProgram, with the arguments on the program's standard input rather than in its argument
 * list, which any user of the host can read (`ps`, /proc/PID/cmdline, sudo's log), as can the
 * login shell's that SSH starts: for a program given secrets. They arrive quoted as toCommandLine
 * quotes them and become $1, $2, … before the script runs, its standard input then empty.
 */
export function shProgramWithHiddenArgs(script: string, name: string, args: readonly string[]): { argv: string[]; stdin: string } {
    const unpack = `plt_args=$(cat) && ${refuseUnlessWhole("plt_args")} && exec </dev/null && eval "set -- $plt_args" && unset plt_args || exit 125\n`;
    return { argv: shProgram(unpack + script, name, []), stdin: args.map(shellQuote).join(" ") + END_OF_INPUT };
}
