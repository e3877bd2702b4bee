import { shProgram } from "../transport/argv";
import { RemoteCommandError, Transport } from "../transport/transport";

/**
 * Two fixed programs for resources whose state lives in files (sysfs, procfs, /etc): one reads
 * a batch of files, one changes a batch transactionally. Paths and values reach the host only
 * as positional parameters. Path patterns may contain globs; callers build them from validated
 * parts only.
 */

const READ_PROGRAM = `
IFS='
'
for arg in "$@"; do
  case $arg in
    pidof:*) name=\${arg#pidof:}; pids=$(pidof -x "$name" 2>/dev/null)
      printf 'pids\\t%s\\t%s\\n' "$name" "$(printf '%s' "$pids" | tr ' ' ',')"
      for pid in $(printf '%s' "$pids" | tr ' ' '\\n'); do printf 'cmdline\\t%s\\t%s\\n' "$pid" "$(base64 -w0 < "/proc/$pid/cmdline" 2>/dev/null)"; done
      continue ;;
    which:*) name=\${arg#which:}; printf 'which\\t%s\\t%s\\n' "$name" "$(command -v "$name" 2>/dev/null)"; continue ;;
    readlink:*) name=\${arg#readlink:}; printf 'link\\t%s\\t%s\\n' "$name" "$(readlink -f "$name" 2>/dev/null)"; continue ;;
  esac
  found=
  for f in $arg; do
    [ -e "$f" ] || continue
    found=1
    if [ -d "$f" ]; then printf 'dir\\t%s\\t%s\\n' "$f" "$(ls -1 "$f" 2>/dev/null | tr '\\n' ' ')"
    elif c=$(base64 -w0 < "$f" 2>/dev/null); then printf 'file\\t%s\\t%s\\n' "$f" "$c"
    else printf 'unreadable\\t%s\\n' "$f"; fi
  done
  [ -n "$found" ] || printf 'absent\\t%s\\n' "$arg"
done
exit 0
`;

export interface FileSnapshot {
    /** Content by path (globs expanded). */
    files: Map<string, string>;
    /** Directory listings by path. */
    dirs: Map<string, string[]>;
    /** pids by process name, for `pidof:NAME` requests. */
    pids: Map<string, number[]>;
    /** Command paths, for `which:NAME` requests ("" when absent). */
    commands: Map<string, string>;
    /** Resolved symlinks, for `readlink:PATH` requests ("" when absent). */
    links: Map<string, string>;
    /** Argument vectors of the processes found by `pidof:NAME`. */
    cmdlines: Map<number, string[]>;
}

export function parseFileSnapshot(stdout: string): FileSnapshot {
    const snapshot: FileSnapshot = { files: new Map(), dirs: new Map(), pids: new Map(), commands: new Map(), links: new Map(), cmdlines: new Map() };
    for (const line of stdout.split("\n")) {
        const [kind, name, value = ""] = line.split("\t");
        if (kind === "file") {
            snapshot.files.set(name, Buffer.from(value, "base64").toString("utf8"));
        } else if (kind === "dir") {
            snapshot.dirs.set(name, value.split(" ").filter(Boolean));
        } else if (kind === "pids") {
            snapshot.pids.set(name, value.split(",").filter(Boolean).map(Number));
        } else if (kind === "which") {
            snapshot.commands.set(name, value.trim());
        } else if (kind === "link") {
            snapshot.links.set(name, value.trim());
        } else if (kind === "cmdline" && value) {
            snapshot.cmdlines.set(Number(name), Buffer.from(value, "base64").toString("utf8").split("\0").filter(Boolean));
        }
    }
    return snapshot;
}

/**
 * Reads, in one command: files (glob patterns allowed), directory listings, and the requests
 * `pidof:NAME` (pids and their command lines), `which:NAME`, `readlink:PATH`.
 */
export async function readFiles(transport: Transport, requests: readonly string[]): Promise<FileSnapshot> {
    const result = await transport.run(shProgram(READ_PROGRAM, "pulumi-tuning-read", requests));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "read", result);
    }
    return parseFileSnapshot(result.stdout);
}

/**
 * The transaction body, shared by programs that do more first (irqbalance handling): they
 * define `undo_extra` to revert that on failure.
 */
export const TRANSACTION_BODY = `
n=0
flat() { printf '%s' "$1" | tr '\\t\\n' '  '; }
rollback() {
  while [ "$n" -gt 0 ]; do
    eval "p=\\$path_$n v=\\$old_$n"
    printf '%s\\n' "$v" | tee "$p" >/dev/null 2>&1 || printf 'rollback-failed\\t%s\\n' "$p"
    n=$((n-1))
  done
}
fail() { rollback; undo_extra; printf 'failed\\t%s\\t%s\\n' "$1" "$(flat "$2")"; exit 0; }
count=$1; shift
while [ "$count" -gt 0 ]; do
  p=$1 v=$2; shift 2; count=$((count-1))
  old=$(cat "$p" 2>&1) || fail "$p" "$old"
  n=$((n+1)); eval "path_$n=\\$p old_$n=\\$old"
  err=$(printf '%s\\n' "$v" | tee "$p" 2>&1 >/dev/null) || fail "$p" "\${err#tee: }"
  printf 'set\\t%s\\t%s\\t%s\\n' "$p" "$(flat "$old")" "$(flat "$(cat "$p" 2>&1)")"
done
count=$1; shift
while [ "$count" -gt 0 ]; do
  f=$1 content=$2; shift 2; count=$((count-1))
  dir=\${f%/*}
  err=$( { mkdir -p "$dir" && tmp=$(mktemp "$dir/.pulumi-tuning.XXXXXX") && printf '%s' "$content" > "$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$f"; } 2>&1 ) || { rm -f "$dir"/.pulumi-tuning.*; fail "$f" "$err"; }
done
count=$1; shift
while [ "$count" -gt 0 ]; do
  l=$1 target=$2; shift 2; count=$((count-1))
  err=$( { mkdir -p "\${l%/*}" && ln -sfn "$target" "$l"; } 2>&1 ) || fail "$l" "$err"
done
for f in "$@"; do
  err=$(rm -f "$f" 2>&1) || fail "$f" "$err"
done
printf 'done\\n'
`;

const TRANSACTION_PROGRAM = `undo_extra() { :; }\n${TRANSACTION_BODY}`;

export interface ValueWrite {
    /** A sysfs/procfs file. */
    path: string;
    value: string;
}

export interface FileChanges {
    /** Files written whole, atomically, after every value is in. */
    write?: { path: string; content: string }[];
    /** Symlinks (path → target), e.g. enabling a systemd unit. */
    link?: { path: string; target: string }[];
    remove?: string[];
}

export interface TransactionOutcome {
    before: Map<string, string>;
    after: Map<string, string>;
}

export class TransactionError extends Error {}

export function parseTransactionOutput(target: string, stdout: string, describe: (path: string) => string = (p) => p): TransactionOutcome {
    const outcome: TransactionOutcome = { before: new Map(), after: new Map() };
    const notRestored: string[] = [];
    let failure: string | undefined;
    let done = false;
    for (const line of stdout.split("\n")) {
        const [kind, path, a = "", b = ""] = line.split("\t");
        if (kind === "set") {
            outcome.before.set(path, a.trim());
            outcome.after.set(path, b.trim());
        } else if (kind === "rollback-failed") {
            notRestored.push(describe(path));
        } else if (kind === "failed") {
            failure = `${describe(path)}: ${a.trim() || "rejected"}`;
        } else if (kind === "done") {
            done = true;
        }
    }
    if (failure) {
        const restored = notRestored.length
            ? ` Could NOT restore ${notRestored.join(", ")}: check the host.`
            : " Everything this operation had already changed was restored; the host is as it was.";
        throw new TransactionError(`${target}: ${failure}.${restored}`);
    }
    if (!done) {
        throw new TransactionError(`${target}: the apply program ended early; output: ${stdout.trim() || "(none)"}`);
    }
    return outcome;
}

/** Positional parameters of TRANSACTION_BODY: counted lists of writes, files and links, then removals. */
export function transactionArgs(writes: readonly ValueWrite[], changes: FileChanges): string[] {
    return [
        String(writes.length),
        ...writes.flatMap((w) => [w.path, w.value]),
        String(changes.write?.length ?? 0),
        ...(changes.write ?? []).flatMap((f) => [f.path, f.content]),
        String(changes.link?.length ?? 0),
        ...(changes.link ?? []).flatMap((l) => [l.path, l.target]),
        ...(changes.remove ?? []),
    ];
}

/**
 * Writes values in order (each file's old content kept), then whole files, links and removals.
 * Any failure restores every value already written and reports the kernel's reason.
 */
export async function applyTransaction(
    transport: Transport,
    writes: readonly ValueWrite[],
    changes: FileChanges,
    describe?: (path: string) => string,
): Promise<TransactionOutcome> {
    const result = await transport.run(shProgram(TRANSACTION_PROGRAM, "pulumi-tuning-apply", transactionArgs(writes, changes)));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "apply", result);
    }
    return parseTransactionOutput(transport.target, result.stdout, describe);
}
