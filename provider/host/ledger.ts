import { createHash } from "crypto";
import { z } from "zod";

/**
 * The host-side ledger of every resource but SysctlSet (whose own format predates this one): one
 * small root-only file per resource, written atomically by the apply program before its first
 * write. It holds the owner (project/stack/resource), the items the resource changes (paths, or
 * `ethtool:IF:FEATURE`-style names where there is no path) and the record the resource keeps in
 * state — its originals and the files it manages. A run killed after the host changed but before
 * the engine saved state leaves it behind: the next create takes its originals from it instead of
 * the already-tuned live values. Every resource's ledger lists its items, so a second owner of an
 * item, of any resource kind and any stack, is seen and refused.
 */
export const LEDGER_ROOT = "/var/lib/pulumi-linux-tuning";

/** Every ledger on a host, for one read request or listing. */
export const ALL_LEDGERS = `${LEDGER_ROOT}/*/*.ledger`;

export interface HostLedger {
    owner: string;
    items: string[];
    /** The resource's state record as it was when the ledger was written. */
    record: Record<string, unknown>;
    /** Directories the apply created, appended as `dir` lines as it made them (FILE_HELPERS' mkdirs). */
    createdDirs: string[];
}

/**
 * The ledger file of `owner` in `dir`: safe as one path component, bounded, distinct per owner.
 * An owner of letters, digits, `_`, `.`, `-` and `/` reads as itself, each slash a comma; any
 * other owner (`nic 1`), or a long one, gets a hash of itself after a `+`. Neither a comma nor a
 * `+` was in the names of earlier versions (every other character an underscore), whose ledgers
 * live on under the names their state records.
 */
export function ledgerFileIn(dir: string, owner: string, fallback: string): string {
    if (/^[A-Za-z0-9_][A-Za-z0-9_.\/-]{0,199}$/.test(owner)) {
        return `${dir}/${owner.replace(/\//g, ",")}.ledger`;
    }
    const readable = owner.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[.-]+/, "").slice(0, 150) || fallback;
    return `${dir}/${readable}+${ownerHash(owner)}.ledger`;
}

const ownerHash = (owner: string): string => createHash("sha256").update(owner).digest("hex").slice(0, 16);

/**
 * Where earlier versions kept `owner`'s ledger (every character but letters, digits, `_`, `.` and
 * `-` as `_`): the resources they created keep it, and their state names it.
 */
export function earlierHostLedgerPath(kind: string, owner: string): string {
    let name = owner.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[.-]+/, "");
    if (name.length > 200) {
        name = `${name.slice(0, 150)}-${ownerHash(owner)}`;
    }
    return `${LEDGER_ROOT}/${kind}/${name || kind}.ledger`;
}

/** `kind` names the directory: one per resource kind (nic, irq, cpu-governor, …). */
export const hostLedgerPath = (kind: string, owner: string): string => ledgerFileIn(`${LEDGER_ROOT}/${kind}`, owner, kind);

/** What says which ledger a resource already has: its state record (`ledgerFile`) or its old inputs (`owner`). */
export type LedgerHolder = { ledgerFile?: unknown; owner?: unknown };

/**
 * The ledger files that are a resource's own: the one its owner names now and, for an existing
 * resource, the one it already has (state's `ledgerFile`, or its previous owner's): after
 * `pulumi stack rename` the owner changes, and the resource must neither be refused by its own
 * old ledger nor leave it behind. The first is the one to write: the existing one when there is.
 */
export function ownLedgerFiles(kind: string, owner: string, previous?: LedgerHolder): string[] {
    const existing = [
        ...(typeof previous?.ledgerFile === "string" ? [previous.ledgerFile] : []),
        ...(typeof previous?.owner === "string" ? [hostLedgerPath(kind, previous.owner)] : []),
    ];
    return [...new Set([...existing, hostLedgerPath(kind, owner)])];
}

const oneLine = (s: string) => s.replace(/[\t\r\n]/g, " ");

export function renderHostLedger(ledger: Omit<HostLedger, "createdDirs">): string {
    return [
        "# pulumi-linux-tuning: what the owner below found before it first changed these items.",
        "# Restored and removed by `pulumi destroy`; do not edit.",
        `owner\t${oneLine(ledger.owner)}`,
        ...ledger.items.map((item) => `item\t${oneLine(item)}`),
        `record\t${Buffer.from(JSON.stringify(ledger.record)).toString("base64")}`,
    ].join("\n") + "\n";
}

/**
 * A ledger's text; undefined for a torn file. A SysctlSet's ledger (its own older format) reads
 * as its keys' /proc/sys files, with no record: enough to see who owns them.
 */
export function parseHostLedger(text: string): HostLedger | undefined {
    const ledger: HostLedger = { owner: "", items: [], record: {}, createdDirs: [] };
    let record = false;
    let sysctlKeys = false;
    for (const line of text.split("\n")) {
        const tab = line.indexOf("\t");
        const [kind, value] = tab < 0 ? [line, ""] : [line.slice(0, tab), line.slice(tab + 1)];
        if (kind === "owner") {
            ledger.owner = value;
        } else if (kind === "item") {
            ledger.items.push(value);
        } else if (kind === "key" && value.includes("\t")) {
            ledger.items.push(`/proc/sys/${value.slice(0, value.indexOf("\t"))}`);
            sysctlKeys = true;
        } else if (kind === "dir") {
            ledger.createdDirs.push(value);
        } else if (kind === "record") {
            try {
                ledger.record = JSON.parse(Buffer.from(value, "base64").toString("utf8")) as Record<string, unknown>;
                record = true;
            } catch {
                return undefined;
            }
        }
    }
    // An apply appends what it brought in as it goes (KernelModule's loads), which may repeat an item.
    ledger.items = [...new Set(ledger.items)];
    return (record || sysctlKeys) && ledger.owner ? ledger : undefined;
}

/** Ledgers out of file contents by path (a FileSnapshot's, or a listing's). */
export function ledgersIn(files: ReadonlyMap<string, string>): Map<string, HostLedger> {
    const ledgers = new Map<string, HostLedger>();
    for (const [path, content] of files) {
        const ledger = path.startsWith(`${LEDGER_ROOT}/`) && path.endsWith(".ledger") ? parseHostLedger(content) : undefined;
        if (ledger) {
            ledgers.set(path, ledger);
        }
    }
    return ledgers;
}

/**
 * Appended to a resource's own read program: prints `ledger-line<TAB>PATH<TAB>LINE` for each line
 * of every ledger on the host (none when not root: the directory is root-only). One awk for all
 * of them: every resource of a profile reads every ledger, so a fork per ledger grows with the
 * square of the resources on a host.
 */
export function withLedgerListing(program: string): string {
    return `read_main() {\n${program}\n}\n( read_main "$@" )\nset --\nfor f in ${ALL_LEDGERS}; do [ -f "$f" ] && [ -r "$f" ] && set -- "$@" "$f"; done\n[ $# -gt 0 ] && awk '{ print "ledger-line\\t" FILENAME "\\t" $0 }' "$@"\nexit 0\n`;
}

/** The ledgers a withLedgerListing program printed. */
export function parseLedgerListing(stdout: string): Map<string, HostLedger> {
    const files = new Map<string, string>();
    for (const line of stdout.split("\n")) {
        const [kind, path] = line.split("\t", 2);
        if (kind === "ledger-line" && path) {
            files.set(path, `${files.get(path) ?? ""}${line.slice(kind.length + path.length + 2)}\n`);
        }
    }
    return ledgersIn(files);
}

/**
 * Wraps a resource's apply program (which prints `done` when everything is in, and on failure
 * restores what it wrote itself). Two positional parameters come first: the ledger's path (`-`:
 * none) and its content. With content, the ledger is written atomically before the program runs
 * and, if the program fails, put back as it was (or removed, if this wrote it first). Without
 * content (a delete), it is removed once the program has put everything back. A failure
 * that could not put something back (`rollback-failed`) keeps the new ledger, the one record
 * of that item's original. FILE_HELPERS'
 * mkdirs appends each directory it creates to it as it goes. With no ledger left, the
 * directories made for them go too.
 */
export function withLedger(program: string): string {
    return `ledger=$1 ledger_content=$2; shift 2
# Stopped by the command's time limit (timeout's TERM, then KILL 5 s later) or a dropped session:
# the program's own fail puts back what it wrote, as on any failure, and the ledger is settled
# as after one.
# Before the program has a fail, nothing says what it wrote: the ledger is kept.
stopped() {
  trap '' TERM INT HUP
  command -v fail >/dev/null 2>&1 || { printf 'rollback-failed\\twhatever it had begun (stopped before it could undo)\\nfailed\\t-\\tstopped by a signal\\n'; exit 0; }
  fail - "stopped by a signal (the command time limit?) before it finished"; exit 0
}
apply_main() {
trap stopped TERM INT HUP
${program}
}
if [ "$ledger" = - ]; then apply_main "$@"; exit 0; fi
# The ledger is root's: without it nothing would record the originals.
[ "$(id -u)" = 0 ] || { printf 'not-root\\t%s\\n' "$(id -un)"; exit 0; }
# This shell waits for the program's report: a signal must not end it first.
trap : TERM INT HUP
ledger_dir=\${ledger%/*} ledger_root=\${ledger%/*/*}
tidy_ledgers() {
  ls "$ledger_dir"/*.ledger >/dev/null 2>&1 || { rmdir "$ledger_dir" 2>/dev/null && rmdir "$ledger_root" 2>/dev/null; }
  return 0
}
ledger_failed() {
  rm -f "$ledger.tmp" "$ledger.prev"; tidy_ledgers
  printf 'ledger-failed\\t%s\\t%s\\n' "$ledger" "$err" | tr '\\n' ' '; printf '\\n'; exit 0
}
# Items of ours another owner's ledger holds: "owned<TAB>ITEM<TAB>OWNER" (a SysctlSet's keys as /proc/sys files).
foreign_claims() {
  _owner=$(printf '%s\\n' "$ledger_content" | awk -F '\\t' '$1 == "owner" { print substr($0, 7); exit }')
  _items=$(printf '%s\\n' "$ledger_content" | awk -F '\\t' '$1 == "item" { print substr($0, 6) }')
  [ -n "$_items" ] || return 0
  for _f in "$ledger_root"/*/*.ledger; do
    [ -f "$_f" ] && [ "$_f" != "$ledger" ] || continue
    _same_dir=; [ "\${_f%/*}" = "$ledger_dir" ] && _same_dir=1
    awk -F '\\t' -v items="$_items" -v own="$_owner" -v same_dir="$_same_dir" '
      BEGIN { n = split(items, it, "\\n"); for (i = 1; i <= n; i++) want[it[i]] = 1 }
      $1 == "owner" { o = substr($0, 7) }
      $1 == "item" && (substr($0, 6) in want) { hit[substr($0, 6)] = 1 }
      $1 == "key" && (("/proc/sys/" $2) in want) { hit["/proc/sys/" $2] = 1 }
      END { if (same_dir && o == own) exit; for (i in hit) print "owned\\t" i "\\t" o }' "$_f"
  done
}
created_ledger=
rm -f "$ledger.prev"
if [ -n "$ledger_content" ]; then
  # One apply at a time claims items on this host: the check against the other ledgers and the
  # write of ours see the same ledgers. The lock is the ledger root itself, taken again if a
  # delete removed that directory while this waited for it.
  tries=0
  while :; do
    err=$( { mkdir -p "$ledger_dir" && chmod 0700 "$ledger_root" "$ledger_dir"; } 2>&1 ) || ledger_failed
    exec 8<"$ledger_root" || { err="cannot open $ledger_root"; ledger_failed; }
    if command -v flock >/dev/null; then flock -w 120 8 || { err="another apply held the host's ledger lock for 120 s"; ledger_failed; }; fi
    [ "/proc/$$/fd/8" -ef "$ledger_root" ] && [ -d "$ledger_dir" ] && break
    exec 8<&-
    tries=$((tries+1)); [ "$tries" -lt 5 ] || { err="$ledger_root kept disappearing"; ledger_failed; }
  done
  owned=$(foreign_claims)
  if [ -n "$owned" ]; then printf '%s\\n' "$owned"; tidy_ledgers; exit 0; fi
  if [ -f "$ledger" ]; then cp -p "$ledger" "$ledger.prev"; else created_ledger=1; fi
  err=$( { printf '%s' "$ledger_content" > "$ledger.tmp" && chmod 0600 "$ledger.tmp" && mv -f "$ledger.tmp" "$ledger"; } 2>&1 ) || ledger_failed
  # Our claim is on the host now; nothing the program starts (irqbalance) may keep the lock.
  exec 8<&-
fi
out=$(apply_main "$@")
# Settled before the report is printed: with the controller gone (killed, a dropped session),
# printing it ends this shell (SIGPIPE), and a settled ledger is what the next run reads.
case "
$out
" in
  *"
done
"*)
    rm -f "$ledger.prev"
    [ -z "$ledger_content" ] && rm -f "$ledger" ;;
  *"
rollback-failed"*)
    # Something this run changed is still changed: its original is only in this ledger now
    # (a failed create leaves no state), so it stays for the next run to restore from.
    rm -f "$ledger.prev" ;;
  *)
    if [ -f "$ledger.prev" ]; then mv -f "$ledger.prev" "$ledger"; elif [ -n "$created_ledger" ]; then rm -f "$ledger"; fi ;;
esac
tidy_ledgers
printf '%s\\n' "$out"
exit 0
`;
}

export class LedgerWriteError extends Error {}

/**
 * A withLedger program that did not write its ledger ran nothing else: says why, naming the file,
 * or the owner of an item whose ledger another apply wrote since this one read the host.
 */
export function throwIfLedgerUnwritten(target: string, stdout: string): void {
    const user = /^not-root\t(.*)$/m.exec(stdout);
    if (user) {
        throw new LedgerWriteError(`${target}: changing the host needs root, and this runs as ${user[1]}: run as root, or set the connection's sudo: true (passwordless sudo). Nothing was changed.`);
    }
    const failed = /^ledger-failed\t([^\t]*)\t(.*)$/m.exec(stdout);
    if (failed) {
        throw new LedgerWriteError(`${target}: cannot write the ledger ${failed[1]}: ${failed[2].trim() || "failed"}. Nothing was changed.`);
    }
    const claims = [...stdout.matchAll(/^owned\t([^\t]*)\t(.*)$/gm)].map(([, item, owner]) => ({ item, owner: `${owner} (its ledger on the host)` }));
    if (claims.length > 0) {
        throw new OwnedItemsError(`${target}: ${describeClaims(claims)}. Nothing was changed.`);
    }
}

/** What an apply does with its ledger: write `content` before the first write, or (no content) remove it after the last restore. */
export interface LedgerAction {
    path: string;
    content?: string;
}

/** withLedger's two leading positional parameters. */
export const ledgerArgs = (action?: LedgerAction): [string, string] => [action?.path ?? "-", action?.content ?? ""];

/** Items of `items` another ledger on the host holds, with its owner (and where it was seen). */
function foreignClaims(ledgers: ReadonlyMap<string, HostLedger>, own: string | readonly string[], owner: string, items: readonly string[]): { item: string; owner: string }[] {
    const wanted = new Set(items);
    const ownPaths = typeof own === "string" ? [own] : own;
    const ownDir = ownPaths[0].slice(0, ownPaths[0].lastIndexOf("/"));
    // After a stack rename, the first up rewrites the old-path ledger under the new owner; check sees only old inputs, not that path.
    const isOwn = (path: string, ledger: HostLedger) => ownPaths.includes(path) || (ledger.owner === owner && path.slice(0, path.lastIndexOf("/")) === ownDir);
    const claims: { item: string; owner: string }[] = [];
    for (const [path, ledger] of ledgers) {
        if (!isOwn(path, ledger)) {
            claims.push(...ledger.items.filter((item) => wanted.has(item)).map((item) => ({ item, owner: `${ledger.owner} (its ledger on the host)` })));
        }
    }
    return claims;
}

/** One message per owner: "ITEM, ITEM are managed by OWNER; remove it there first; …". */
function describeClaims(claims: readonly { item: string; owner: string }[]): string {
    const byOwner = new Map<string, string[]>();
    for (const { item, owner } of claims) {
        byOwner.set(owner, [...(byOwner.get(owner) ?? []), item]);
    }
    return [...byOwner]
        .map(([owner, items]) => `${listed(items)} ${items.length === 1 ? "is" : "are"} managed by ${owner}; remove it there first`)
        .join("; ");
}

/** A few items by name, then how many more: a CPU's files by every spelling make long lists. */
function listed(items: readonly string[], shown = 4): string {
    return items.length <= shown ? items.join(", ") : `${items.slice(0, shown).join(", ")} and ${items.length - shown} more`;
}

/** Who declares an item in an engine run: its kind (its ledgers' directory) and owner; one name may be used by two kinds. */
export interface Claimant {
    kind: string;
    owner: string;
}

/**
 * Items declared by two resources of one engine run on one host: both are new, so neither host
 * ledger exists when their checks run. Module state lives for the provider process.
 */
const declared = new Map<string, Claimant>();

/** The other resource of this run that already declared `item` on the host, if any. */
export function claimInRun(hostId: string, item: string, claimant: Claimant): Claimant | undefined {
    const id = `${hostId}\0${item}`;
    const holder = declared.get(id);
    if (holder !== undefined && (holder.kind !== claimant.kind || holder.owner !== claimant.owner)) {
        return holder;
    }
    declared.set(id, claimant);
    return undefined;
}

/** The resource class whose ledgers a directory holds, as a program declares it. */
const KIND_CLASSES: Record<string, string> = {
    sysctl: "SysctlSet",
    nic: "NicRingConfig",
    "nic-offload": "NicOffloads",
    irq: "IrqAffinity",
    "cpu-governor": "CpuGovernor",
    "kernel-module": "KernelModule",
    "packet-steering": "PacketSteering",
    sysfs: "SysfsSet",
    thp: "TransparentHugepages",
    "wakeup-latency": "CpuWakeupLatency",
};

/** A claimant in a message: "project/stack/name (Class)". */
export const claimantName = (c: Claimant): string => `${c.owner} (${KIND_CLASSES[c.kind] ?? c.kind})`;

/** A claimant in a message: "project/stack/name (Class) in this program". */
export const inThisProgram = (holder: Claimant): string => `${claimantName(holder)} in this program`;

/** The record a create starts from: its own ledger's, left by an interrupted run, with the directories that run reported. */
export function recoveredRecord<R>(ledgers: ReadonlyMap<string, HostLedger>, ownPath: string): R | undefined {
    const ledger = ledgers.get(ownPath);
    if (!ledger) {
        return undefined;
    }
    const record = ledger.record as R & { managedFiles?: { createdDirs?: string[] } };
    if (!record.managedFiles || ledger.createdDirs.length === 0) {
        return record;
    }
    return { ...record, managedFiles: { ...record.managedFiles, createdDirs: [...new Set([...(record.managedFiles.createdDirs ?? []), ...ledger.createdDirs])] } };
}

/**
 * The record an apply starts from: state's, completed from the resource's own ledger. A run killed
 * after the host changed but before the engine saved state leaves there what state lacks: a
 * create's whole record; an update's added items' originals, the files it began to manage and the
 * directories it created. Where both hold a value, state's stands (an original, once taken, never
 * changes); lists stand as state has them, except created directories, which add up.
 */
export function startingRecord<R>(previous: R | undefined, recovered: R | undefined): R | undefined {
    return previous === undefined ? recovered : recovered === undefined ? previous : (completed(previous, recovered, "") as R);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A file's content (absent, file, link: its fields are alternatives) is one value, never mixed from two. */
const isPathContent = (v: Record<string, unknown>) => typeof v.kind === "string";

function completed(kept: unknown, from: unknown, key: string): unknown {
    if (key === "createdDirs" && Array.isArray(kept) && Array.isArray(from)) {
        return [...new Set([...kept, ...from])];
    }
    if (!isPlainObject(kept) || !isPlainObject(from) || isPathContent(kept) || isPathContent(from)) {
        return kept === undefined ? from : kept;
    }
    const out: Record<string, unknown> = { ...kept };
    for (const [k, v] of Object.entries(from)) {
        out[k] = completed(kept[k], v, k);
    }
    return out;
}

/**
 * What a delete restores: state's record completed from the resource's own ledger, so an update
 * killed before the engine saved it is undone too when destroy comes before any other up.
 */
export function recordToRestore<R extends { ledgerFile?: string }>(record: R, ledgers: ReadonlyMap<string, HostLedger>, recover?: (recovered: R) => R): R {
    const recovered = record.ledgerFile ? recoveredRecord<R>(ledgers, record.ledgerFile) : undefined;
    return startingRecord(record, recovered && recover ? recover(recovered) : recovered)!;
}

/**
 * A delete (or an update putting back what it no longer declares) that finds an original's item
 * there but unreadable: dropped with the ledger, that original would be lost, so nothing is done.
 */
export function originalsUnreadableError(target: string, items: readonly string[]): Error {
    return new Error(
        `${target}: cannot put back the original of ${items.join(", ")}: it cannot be read now. Nothing was changed, and the host-side ledger keeps the originals: run this again once it can be read, or leave it as it is: an up with restoreOnDelete: false that no longer declares it, then this again`,
    );
}

/** A resource among the host's ledgers: its kind (their directory), its owner, every ledger the read found, and the host's name for messages. */
export interface LedgerScope {
    kind: string;
    owner: string;
    ledgers: ReadonlyMap<string, HostLedger>;
    target: string;
}

/** How one resource kind plans from a starting record (see startingRecord) and names its items. */
export interface LedgeredPlanner<R, P extends { record: R }> {
    plan(start: R | undefined): P;
    items(record: R): string[];
    /** What a ledger's record stands for once its run was killed (KernelModule: which loads were its own). */
    recovered?(record: R): R;
    /** The record as the ledger keeps it, if more than state's (KernelModule: what was loaded before). */
    stored?(record: R): object;
    /**
     * Whether items() names a record's items after the inputs too (the interface): a create's own
     * ledger written under other inputs then lists items this declaration does not name.
     */
    itemsNameTheDevice?: boolean;
}

function recoveredFor<R, P extends { record: R }>(scope: LedgerScope, own: readonly string[], planner: LedgeredPlanner<R, P>): R | undefined {
    const recovered = recoveredRecord<R>(scope.ledgers, own[0]);
    return recovered && planner.recovered ? planner.recovered(recovered) : recovered;
}

/**
 * What a create's own ledger, left by an interrupted run, lists that this declaration would name
 * otherwise from the same record: that run declared another interface (or device), so its
 * originals are not this one's to take, and what it changed there would be forgotten.
 */
function strayRecoveredItems<R, P extends { record: R }>(scope: LedgerScope, own: readonly string[], planner: LedgeredPlanner<R, P>): string[] {
    const ledger = scope.ledgers.get(own[0]);
    if (!ledger || !planner.itemsNameTheDevice) {
        return [];
    }
    const named = new Set(planner.items(ledger.record as R));
    return ledger.items.filter((item) => !named.has(item));
}

function strayRecoveredMessage(scope: LedgerScope, own: readonly string[], stray: readonly string[]): string {
    return (
        `${scope.target}: ${own[0]} holds the originals of what an interrupted run of ${scope.owner} changed (${stray.join(", ")}), ` +
        `which this declaration no longer names: declare the resource as that run did and run up, then change it (or put those back by hand and remove the ledger)`
    );
}

/**
 * A create or update: the plan from state's record completed from the resource's own ledger, and
 * the ledger action that claims its items before the first write (refused when another owner
 * holds one). `previous` is state's record; undefined for a create.
 */
export function planWithLedger<R extends { ledgerFile?: string }, P extends { record: R }>(scope: LedgerScope, previous: R | undefined, planner: LedgeredPlanner<R, P>): { plan: P; ledger: LedgerAction } {
    const own = ownLedgerFiles(scope.kind, scope.owner, previous);
    const stray = previous === undefined ? strayRecoveredItems(scope, own, planner) : [];
    if (stray.length > 0) {
        throw new Error(`${strayRecoveredMessage(scope, own, stray)}. Nothing was changed.`);
    }
    const plan = planner.plan(startingRecord(previous, recoveredFor(scope, own, planner)));
    plan.record.ledgerFile = own[0];
    const stored = planner.stored ? planner.stored(plan.record) : plan.record;
    return { plan, ledger: ledgerWrite(scope.ledgers, own, scope.owner, planner.items(plan.record), stored, scope.target) };
}

/** For a check, which has only the old inputs: the record this resource's own ledger on the host holds, if any. */
export function ownLedgerRecord<R>(scope: LedgerScope, olds: LedgerHolder): R | undefined {
    return recoveredRecord<R>(scope.ledgers, ownLedgerFiles(scope.kind, scope.owner, olds)[0]);
}

/** A check's refusal of items another resource holds, from what the apply would claim; `olds` are the old inputs (none for a new resource). */
export function plannedOwnershipFailures<R, P extends { record: R }>(scope: LedgerScope, olds: LedgerHolder, planner: LedgeredPlanner<R, P>, hostId: string, property: string): { property: string; reason: string }[] {
    const own = ownLedgerFiles(scope.kind, scope.owner, olds);
    const stray = olds.owner === undefined && olds.ledgerFile === undefined ? strayRecoveredItems(scope, own, planner) : [];
    if (stray.length > 0) {
        return [{ property, reason: strayRecoveredMessage(scope, own, stray) }];
    }
    const plan = planner.plan(recoveredFor(scope, own, planner));
    return ownershipFailures(scope, own, hostId, planner.items(plan.record), property);
}

/**
 * As of a refresh: "in place", "missing: FILE", or how the ledger differs from state: other
 * originals, or items state's record does not have (`items`: the record's), which an update
 * killed after it wrote the ledger leaves.
 */
export function ledgerStatus(ledgers: ReadonlyMap<string, HostLedger>, ledgerFile: string | undefined, originals: unknown, items: readonly string[]): string {
    if (!ledgerFile) {
        return "none (created before ledgers)";
    }
    const ledger = ledgers.get(ledgerFile);
    if (!ledger) {
        return `missing: ${ledgerFile}`;
    }
    if (canonicalJson(ledger.record.originals) !== canonicalJson(originals)) {
        return `differs from state: ${ledgerFile} holds other originals`;
    }
    const known = new Set(items);
    const extra = ledger.items.filter((item) => !known.has(item));
    return extra.length > 0 ? ledgerHoldsMore(ledgerFile, extra) : "in place";
}

/** The status of a ledger holding items state does not have. */
export const ledgerHoldsMore = (ledgerFile: string, items: readonly string[]): string => `differs from state: ${ledgerFile} also holds ${listed(items)} (an interrupted update's)`;

/** A ledger that differs from state is drift: the next up plans from both and puts back what only the ledger knew. */
export const ledgerDiffers = (status: unknown): boolean => typeof status === "string" && status.startsWith("differs from state");

/** A fresh ledgerStatus as drift lines for a preview: none unless the ledger differs from state. */
export const ledgerDrift = (status: string): string[] => (ledgerDiffers(status) ? [status] : []);

function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(canonicalJson).join(",")}]`;
    }
    if (value && typeof value === "object") {
        return `{${Object.keys(value)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(value ?? null);
}

/** The `owner` input every ledgered resource takes: project/stack/resource, set by its constructor. */
export const ownerSchema = z.string().min(1).max(1024).optional();

/** The items of a record: the paths it writes values to, and every file it manages. */
export function itemsOf(valuePaths: readonly string[], managedFiles?: { originals: Record<string, unknown> }): string[] {
    return [...new Set([...valuePaths, ...Object.keys(managedFiles?.originals ?? {})])];
}

export class OwnedItemsError extends Error {}

/**
 * The ledger action of an apply writing `record` to its own ledger (the first of `own`, see
 * ownLedgerFiles); refused, naming the owner, when another resource's ledger holds one of `items` (the check refuses it first; this catches one written
 * since).
 */
export function ledgerWrite(ledgers: ReadonlyMap<string, HostLedger>, own: string | readonly string[], owner: string, items: readonly string[], record: object, target: string): LedgerAction {
    const path = typeof own === "string" ? own : own[0];
    const claims = foreignClaims(ledgers, own, owner, items);
    if (claims.length > 0) {
        throw new OwnedItemsError(`${target}: ${describeClaims(claims)}. Nothing was changed.`);
    }
    return { path, content: renderHostLedger({ owner, items: [...items], record: JSON.parse(JSON.stringify(record)) as Record<string, unknown> }) };
}

/** Check failures for items another resource holds: on the host (its ledger) or in this engine run. */
export function ownershipFailures(scope: LedgerScope, own: readonly string[], hostId: string, items: readonly string[], property: string): { property: string; reason: string }[] {
    const claims = foreignClaims(scope.ledgers, own, scope.owner, items);
    for (const item of items) {
        const holder = claimInRun(hostId, item, { kind: scope.kind, owner: scope.owner });
        if (holder !== undefined) {
            claims.push({ item, owner: inThisProgram(holder) });
        }
    }
    return claims.length > 0 ? [{ property, reason: `${scope.target}: ${describeClaims(claims)}` }] : [];
}
