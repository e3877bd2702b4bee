import { shProgram } from "../transport/argv";
import { LedgerAction, ledgerArgs, throwIfLedgerUnwritten, withLedger } from "./ledger";
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
      for pid in $(printf '%s' "$pids" | tr ' ' '\\n'); do
        printf 'cmdline\\t%s\\t%s\\n' "$pid" "$(base64 -w0 < "/proc/$pid/cmdline" 2>/dev/null)"
        printf 'cgroup\\t%s\\t%s\\n' "$pid" "$(base64 -w0 < "/proc/$pid/cgroup" 2>/dev/null)"
      done
      continue ;;
    which:*) name=\${arg#which:}; printf 'which\\t%s\\t%s\\n' "$name" "$(command -v "$name" 2>/dev/null)"; continue ;;
    readlink:*) name=\${arg#readlink:}; for f in $name; do printf 'link\\t%s\\t%s\\n' "$f" "$(readlink -f "$f" 2>/dev/null)"; done; continue ;;
    symlink:*) name=\${arg#symlink:}; [ -L "$name" ] && printf 'symlink\\t%s\\t%s\\n' "$name" "$(readlink "$name")"; continue ;;
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

/**
 * A file's exact content: its text, and, when its bytes are not UTF-8 (the text has U+FFFD in
 * their place and would not give them back), the bytes themselves, base64-encoded. Records from
 * before `base64` existed hold text only.
 */
export interface FileData {
    content: string;
    base64?: string;
}

/** A file to write whole; `mode` (octal) for one that holds a secret, else it keeps the mode it has (0644 when new). */
export type FileWrite = { path: string; mode?: string } & FileData;

/**
 * Why a resource that persists cannot write its own file at `path`: a symbolic link there (a
 * /dev/null mask, or a file kept elsewhere) would have the write go through to the file it names,
 * or replace the link, and neither is this resource's to change.
 */
export function linkedOwnFile(path: string, link: string | undefined, persist: boolean): string | undefined {
    return persist && link !== undefined ? `${path} is a symbolic link (to ${link}), not a file this resource may write: remove the link, give the resource another name, or set persist: false` : undefined;
}

export function fileFromBytes(bytes: Buffer): FileData {
    const content = bytes.toString("utf8");
    return Buffer.from(content, "utf8").equals(bytes) ? { content } : { content, base64: bytes.toString("base64") };
}

/** A file as the read programs print it (base64). */
export const fileFromBase64 = (base64: string): FileData => fileFromBytes(Buffer.from(base64, "base64"));

export const bytesOf = (file: FileData): Buffer => (file.base64 !== undefined ? Buffer.from(file.base64, "base64") : Buffer.from(file.content, "utf8"));

/** Only the content of `file` (a write, a PathContent), without its other fields. */
export const fileDataOf = ({ content, base64 }: FileData): FileData => (base64 !== undefined ? { content, base64 } : { content });

/** A file action as the apply programs take it: "" leave, "-" remove, "w" and the bytes in base64 write. */
export const fileActionArg = (file: FileData | null | undefined): string => (file === undefined ? "" : file === null ? "-" : `w${bytesOf(file).toString("base64")}`);

/** Whether `file` holds exactly `text` (bytes that are not UTF-8 never do). */
export const holdsText = (file: FileData | null | undefined, text: string): boolean => file?.content === text && file.base64 === undefined;

export interface FileSnapshot {
    /** Content by path (globs expanded), as text. */
    files: Map<string, string>;
    /** The bytes (base64) of each file in `files` that is not UTF-8, so its text does not keep them. */
    nonUtf8?: Map<string, string>;
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
    /** Their /proc/PID/cgroup, which names the systemd unit running each, if one does. */
    cgroups?: Map<number, string>;
    /** Symlink targets as stored (not resolved), for `symlink:PATH` requests; absent: not a symlink. */
    symlinks?: Map<string, string>;
    /** Files that exist but could not be read (a read error: EIO, EINVAL, EBUSY). */
    unreadable?: Set<string>;
}

export function parseFileSnapshot(stdout: string): FileSnapshot {
    const snapshot: FileSnapshot = { files: new Map(), nonUtf8: new Map(), dirs: new Map(), pids: new Map(), commands: new Map(), links: new Map(), cmdlines: new Map(), cgroups: new Map(), symlinks: new Map(), unreadable: new Set() };
    for (const line of stdout.split("\n")) {
        const [kind, name, value = ""] = line.split("\t");
        if (kind === "file") {
            const file = fileFromBase64(value);
            snapshot.files.set(name, file.content);
            if (file.base64 !== undefined) {
                snapshot.nonUtf8!.set(name, file.base64);
            }
        } else if (kind === "dir") {
            snapshot.dirs.set(name, value.split(" ").filter(Boolean));
        } else if (kind === "pids") {
            snapshot.pids.set(name, value.split(",").filter(Boolean).map(Number));
        } else if (kind === "which") {
            snapshot.commands.set(name, value.trim());
        } else if (kind === "link") {
            snapshot.links.set(name, value.trim());
        } else if (kind === "symlink") {
            snapshot.symlinks!.set(name, value);
        } else if (kind === "unreadable") {
            snapshot.unreadable!.add(name);
        } else if (kind === "cgroup" && value) {
            snapshot.cgroups!.set(Number(name), Buffer.from(value, "base64").toString("utf8"));
        } else if (kind === "cmdline" && value) {
            snapshot.cmdlines.set(Number(name), Buffer.from(value, "base64").toString("utf8").split("\0").filter(Boolean));
        }
    }
    return snapshot;
}

/**
 * Reads, in one command: files (glob patterns allowed), directory listings, and the requests
 * `pidof:NAME` (pids and their command lines), `which:NAME`, `readlink:PATH` (resolved; PATH may be a glob),
 * `symlink:PATH` (the link's own target, when PATH is a symlink).
 */
export async function readFiles(transport: Transport, requests: readonly string[]): Promise<FileSnapshot> {
    const result = await transport.run(shProgram(READ_PROGRAM, "pulumi-tuning-read", requests));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "read", result);
    }
    return parseFileSnapshot(result.stdout);
}

/** A file in `snapshot` with its exact bytes; undefined when it was not read. */
export function fileIn(snapshot: FileSnapshot, path: string): FileData | undefined {
    const content = snapshot.files.get(path);
    const base64 = snapshot.nonUtf8?.get(path);
    return content === undefined ? undefined : base64 !== undefined ? { content, base64 } : { content };
}

/**
 * Shell functions for files in /etc, shared by every apply program. Each sets `err` on failure.
 * mkdirs DIR: `mkdir -p`, printing "created<TAB>D" for each directory it made, so a resource
 * can remove exactly those again (and, under withLedger, listing each in the ledger before making it). put_file PATH BASE64: the bytes BASE64 encodes, atomically
 * (temp file + rename), an existing file keeping its mode and owner unless a MODE follows (a
 * file holding a secret: 0600); base64 carries any bytes,
 * where a shell word would lose a NUL and text what is not UTF-8. A PATH that is a symlink to a
 * file (an /etc/default file linked into a config checkout) is written through: the link stays
 * a link, and `through PATH` names the file that changes, for keep. put_link PATH TARGET.
 * rm_dirs DIR...: each one removed if it is (still) an empty directory, in the order given
 * (deepest first). keep PATH, before a change to it: what it holds (or that it is absent) into a
 * private temporary directory; undo_files puts back every kept path, newest first, and removes
 * the directories mkdirs made, so a failed apply leaves no file of ours behind when its ledger
 * is rolled back (setting `stuck` for a path it could not put back); drop_kept forgets them once everything is in.
 */
export const FILE_HELPERS = `
made_dirs= kept_dir= kept_n=0 stuck=
mkdirs() {
  _made= _d=$1
  while [ -n "$_d" ] && [ ! -d "$_d" ]; do _made="$_d
$_made"; _d=\${_d%/*}; done
  # Under withLedger, into the ledger before they exist: a run killed right after mkdir still
  # removes them (one it never made is no directory to remove).
  if [ -n "\${ledger_content:-}" ]; then
    printf '%s' "$_made" | while IFS= read -r _d; do [ -z "$_d" ] || printf 'dir\\t%s\\n' "$_d" >> "$ledger"; done
  fi
  # One that fails partway (a component too long, a full disk) takes back those it made: the
  # ledger's lines for them go with the rollback.
  err=$(mkdir -p "$1" 2>&1) || { printf '%s' "$_made" | sort -r | while IFS= read -r _d; do [ -z "$_d" ] || rmdir "$_d" 2>/dev/null; done; return 1; }
  made_dirs="$_made$made_dirs"
  printf '%s' "$_made" | while IFS= read -r _d; do
    [ -z "$_d" ] || printf 'created\\t%s\\n' "$_d"
  done
  return 0
}
through() {
  _through=$1
  if [ -L "$1" ] && _r=$(readlink -f "$1" 2>/dev/null) && [ -f "$_r" ]; then _through=$_r; fi
}
put_file() {
  through "$1"; set -- "$_through" "$2" "\${3:-}"
  _dir=\${1%/*}
  mkdirs "$_dir" || return 1
  _mode=0644 _own=
  if [ -f "$1" ] && [ ! -L "$1" ]; then _mode=$(stat -c %a "$1") _own=$(stat -c %u:%g "$1"); fi
  case \${3:--} in -) ;; *) _mode=$3 ;; esac
  _tmp=$(mktemp "$_dir/.pulumi-tuning.XXXXXX" 2>&1) || { err=$_tmp; return 1; }
  # A link still here names no regular file (/dev/null, a directory, nothing): the link itself is
  # replaced, never the mode of its 777 taken, nor the file moved into a directory it names.
  err=$( { printf '%s' "$2" | base64 -d > "$_tmp" && chmod "$_mode" "$_tmp" && { [ -z "$_own" ] || chown "$_own" "$_tmp"; } && { [ ! -L "$1" ] || rm -f "$1"; } && mv -f "$_tmp" "$1"; } 2>&1 ) || { rm -f "$_tmp"; return 1; }
}
put_link() {
  mkdirs "\${1%/*}" || return 1
  err=$(ln -sfn "$2" "$1" 2>&1)
}
rm_dirs() {
  for _d in "$@"; do
    [ -d "$_d" ] && [ ! -L "$_d" ] && rmdir "$_d" 2>/dev/null && printf 'removed-dir\\t%s\\n' "$_d"
  done
  return 0
}
keep() {
  [ -n "$kept_dir" ] || { kept_dir=$(mktemp -d 2>&1) || { err="cannot keep a copy of $1: $kept_dir"; kept_dir=; return 1; }; }
  _n=$((kept_n+1))
  if [ -e "$1" ] || [ -L "$1" ]; then err=$(cp -a "$1" "$kept_dir/$_n" 2>&1) || { rm -rf "$kept_dir/$_n"; err="cannot keep a copy of $1: $err"; return 1; }; fi
  # Counted only once its copy is whole: undo_files takes a counted path without one for absent.
  kept_n=$_n; eval "kept_path_$kept_n=\\$1"
}
undo_files() {
  while [ "$kept_n" -gt 0 ]; do
    eval "_p=\\$kept_path_$kept_n"
    # A path that was absent and still is (a write that failed, or a name too long to create) is already restored.
    if [ -e "$kept_dir/$kept_n" ] || [ -L "$kept_dir/$kept_n" ]; then rm -f "$_p" && mv -f "$kept_dir/$kept_n" "$_p"; elif [ -e "$_p" ] || [ -L "$_p" ]; then rm -f "$_p"; fi 2>/dev/null || { printf 'rollback-failed\\t%s\\n' "$_p"; stuck=1; }
    kept_n=$((kept_n-1))
  done
  drop_kept
  printf '%s' "$made_dirs" | sort -r | while IFS= read -r _d; do [ -n "$_d" ] && rmdir "$_d" 2>/dev/null; done
  made_dirs=
  return 0
}
drop_kept() { [ -z "$kept_dir" ] || rm -rf "$kept_dir"; kept_dir= kept_n=0; }
`;

/**
 * Applies the file part of a FileChanges (fileChangeArgs, the rest of the positional parameters):
 * whole files, links, removals, then empty directories. Needs FILE_HELPERS and a `fail WHAT WHY`.
 */
export const FILE_CHANGES = `
count=$1; shift
while [ "$count" -gt 0 ]; do
  f=$1 bytes=$2 mode=$3; shift 3; count=$((count-1))
  through "$f"; keep "$_through" && put_file "$f" "$bytes" "$mode" || fail "$f" "$err"
done
count=$1; shift
while [ "$count" -gt 0 ]; do
  l=$1 target=$2; shift 2; count=$((count-1))
  keep "$l" && put_link "$l" "$target" || fail "$l" "$err"
done
count=$1; shift
while [ "$count" -gt 0 ]; do
  f=$1; shift; count=$((count-1))
  keep "$f" && err=$(rm -f "$f" 2>&1) || fail "$f" "$err"
done
# Everything is in: a stop from here would undo the values with their files no longer kept.
trap '' TERM INT HUP
drop_kept
rm_dirs "$@"
`;

/**
 * The transaction body, shared by programs that do more first (irqbalance handling): they
 * define `undo_extra` to revert that on failure, and FILE_HELPERS.
 */
export const TRANSACTION_BODY = `
n=0
flat() { printf '%s' "$1" | tr '\\t\\n' '  '; }
# As sysfs/plan.ts's parseSelection: exactly one "(word)" and no other parenthesis, among other
# words or followed by a space; the word into $word.
parenthesised() {
  _all=$1 _marked=0 word=
  set -f; set -- $1; set +f
  for _t do
    case $_t in
      \\(*[\\(\\)]*\\)) _marked=2 ;;
      \\(?*\\)) _marked=$((_marked+1)); word=\${_t#?}; word=\${word%?} ;;
      *[\\(\\)]*) _marked=2 ;;
    esac
  done
  [ "$_marked" = 1 ] || return 1
  [ $# -gt 1 ] && return 0
  _t=\${_all##*\\)}
  case $_t in "" | *[!" 	"]*) return 1 ;; esac
}
rollback() {
  _again=
  while [ "$n" -gt 0 ]; do
    eval "p=\\$path_$n v=\\$old_$n"
    printf '%s\\n' "$v" | tee "$p" >/dev/null 2>&1 || _again="$_again $n"
    n=$((n-1))
  done
  # One the kernel refuses while another is still changed (an EPP under the performance governor,
  # EBUSY until the governor is back) is tried once more, after the rest.
  for _i in $_again; do
    eval "p=\\$path_$_i v=\\$old_$_i"
    printf '%s\\n' "$v" | tee "$p" >/dev/null 2>&1 || printf 'rollback-failed\\t%s\\n' "$p"
  done
}
fail() { undo_files; rollback; undo_extra; printf 'failed\\t%s\\t%s\\n' "$1" "$(flat "$2")"; exit 0; }
count=$1; shift
while [ "$count" -gt 0 ]; do
  p=$1 v=$2; shift 2; count=$((count-1))
  old=$(cat "$p" 2>&1) || fail "$p" "$old"
  # A selection file ("always [madvise] never", debugfs's "none (voluntary) full ") takes back only
  # its selected word; an ifalias, or one given free text (several words, or a mark), is no
  # selection file (sysfs/plan.ts's isFreeText).
  back=$old free=
  case $v in *" "* | *"["* | *"]"* | *"("* | *")"*) free=1 ;; esac
  case $p in */ifalias) free=1 ;; esac
  if [ -z "$free" ]; then
    case $old in
      *\\[*\\]*) back=\${old#*\\[}; back=\${back%%\\]*} ;;
      *\\(*) parenthesised "$old" && back=$word ;;
    esac
  fi
  # An unset driver_override reads "(null)", which written back would name a driver; an empty write unsets it.
  case $p/$back in */driver_override/"(null)") back= ;; esac
  n=$((n+1)); eval "path_$n=\\$p old_$n=\\$back"
  err=$(printf '%s\\n' "$v" | tee "$p" 2>&1 >/dev/null) || fail "$p" "\${err#tee: }"
  printf 'set\\t%s\\t%s\\t%s\\n' "$p" "$(flat "$old")" "$(flat "$(cat "$p" 2>&1)")"
done
${FILE_CHANGES}printf 'done\\n'
`;

const TRANSACTION_PROGRAM = withLedger(`undo_extra() { :; }\n${FILE_HELPERS}\n${TRANSACTION_BODY}`);

export interface ValueWrite {
    /** A sysfs/procfs file. */
    path: string;
    value: string;
}

export interface FileChanges {
    /** Files written whole, atomically, after every value is in. */
    write?: FileWrite[];
    /** Symlinks (path → target), e.g. enabling a systemd unit. */
    link?: { path: string; target: string }[];
    remove?: string[];
    /** Directories removed after everything else when empty, in this order (deepest first). */
    rmdir?: string[];
}

export interface TransactionOutcome {
    before: Map<string, string>;
    after: Map<string, string>;
    /** Directories this operation created (they did not exist before), outermost first. */
    createdDirs: string[];
}

export class TransactionError extends Error {}

export function parseTransactionOutput(target: string, stdout: string, describe: (path: string) => string = (p) => p): TransactionOutcome {
    throwIfLedgerUnwritten(target, stdout);
    const outcome: TransactionOutcome = { before: new Map(), after: new Map(), createdDirs: [] };
    const notRestored: string[] = [];
    let failure: string | undefined;
    let done = false;
    for (const line of stdout.split("\n")) {
        const [kind, path, a = "", b = ""] = line.split("\t");
        if (kind === "set") {
            outcome.before.set(path, a.trim());
            outcome.after.set(path, b.trim());
        } else if (kind === "created") {
            outcome.createdDirs.push(path);
        } else if (kind === "rollback-failed") {
            notRestored.push(path);
        } else if (kind === "failed") {
            failure = `${describe(path)}: ${a.trim() || "rejected"}`;
        } else if (kind === "done") {
            done = true;
        }
    }
    if (failure) {
        const wasHeld = (path: string) => (outcome.before.has(path) ? ` (it held ${outcome.before.get(path) || "nothing"})` : "");
        const restored = notRestored.length
            ? ` Could NOT restore ${notRestored.map((path) => `${describe(path)}${wasHeld(path)}`).join(", ")}: check the host.`
            : " Everything this operation had already changed was restored; the host is as it was.";
        throw new TransactionError(`${target}: ${failure}.${restored}`);
    }
    if (!done) {
        throw new TransactionError(`${target}: the apply program ended early; output: ${stdout.trim() || "(none)"}`);
    }
    return outcome;
}

/** Positional parameters of TRANSACTION_BODY: counted lists of writes, files (their bytes in base64), links and removals, then directories to remove when empty. */
export function transactionArgs(writes: readonly ValueWrite[], changes: FileChanges): string[] {
    return [String(writes.length), ...writes.flatMap((w) => [w.path, w.value]), ...fileChangeArgs(changes)];
}

/** Positional parameters of FILE_CHANGES: counted lists of files (path, bytes in base64, mode or "-"), links and removals, then directories to remove when empty. */
export function fileChangeArgs(changes: FileChanges): string[] {
    return [
        String(changes.write?.length ?? 0),
        ...(changes.write ?? []).flatMap((f) => [f.path, bytesOf(f).toString("base64"), f.mode ?? "-"]),
        String(changes.link?.length ?? 0),
        ...(changes.link ?? []).flatMap((l) => [l.path, l.target]),
        String(changes.remove?.length ?? 0),
        ...(changes.remove ?? []),
        ...(changes.rmdir ?? []),
    ];
}

/**
 * Writes values in order (each file's old content kept), then whole files, links, removals and
 * empty directories to remove; the resource's ledger first (or, on delete, removed last).
 * Any failure restores every value already written and reports the kernel's reason.
 */
export async function applyTransaction(
    transport: Transport,
    writes: readonly ValueWrite[],
    changes: FileChanges,
    options: { describe?: (path: string) => string; ledger?: LedgerAction } = {},
): Promise<TransactionOutcome> {
    const args = [...ledgerArgs(options.ledger), ...transactionArgs(writes, changes)];
    const result = await transport.run(shProgram(TRANSACTION_PROGRAM, "pulumi-tuning-apply", args));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "apply", result);
    }
    return parseTransactionOutput(transport.target, result.stdout, options.describe);
}

const LEDGER_ONLY_PROGRAM = withLedger(`printf 'done\\n'`);

/**
 * Writes a resource's ledger anew, and nothing else (under the host's ledger lock, refused when
 * another owner holds an item): for what an apply learns only after its writes (a driver's or the
 * kernel's adjustment, a module loaded by something else), which the ledger written before them
 * cannot hold.
 */
export async function rewriteLedger(transport: Transport, ledger: LedgerAction): Promise<void> {
    const result = await transport.run(shProgram(LEDGER_ONLY_PROGRAM, "pulumi-ledger-write", ledgerArgs(ledger)));
    if (result.code !== 0) {
        throw new RemoteCommandError(transport.target, "ledger write", result);
    }
    throwIfLedgerUnwritten(transport.target, result.stdout);
}

/**
 * rewriteLedger after an apply that succeeded: the host is as declared either way, so a rewrite
 * that fails is said, not failed; `stale` says what the ledger then still holds and what follows.
 * Returns the warning, if any.
 */
export async function rewriteLedgerOrWarn(transport: Transport, path: string, ledger: () => LedgerAction, stale: (why: string) => string): Promise<string[]> {
    try {
        await rewriteLedger(transport, ledger());
        return [];
    } catch (e) {
        const warning = `${transport.target}: ${path} ${stale((e as Error).message)}`;
        console.log(warning);
        return [warning];
    }
}
