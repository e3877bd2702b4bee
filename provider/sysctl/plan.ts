import { posix } from "path";
import type { CheckFailure } from "../check";
import { FileChanges } from "../host/files";
import { startingRecord } from "../host/ledger";
import { ABSENT, ManagedFiles, PathContent, RestorePlan, fileContent, forget, manage, planRestore as planFilesRestore, putBack, samePathContent } from "../host/restore";
import { canonicalKey, isSecretKey, shownValue } from "./keys";
import { Ledger, foreignOwners, ledgerPath, renderLedger } from "./ledger";
import { FileAction, HostSnapshot, LedgerAction, OtherWriter, OwnedKeyError, Write } from "./remote";
import { SysctlSetInputs, declarable, defaultPersistFile, persistFileOf, sysctlSetInputsSchema } from "./schema";
import { SettingValue, comparable, inDeclaredShape, isBound, normalise, sameValue, satisfies, targetValue } from "./values";

/** What a SysctlSet keeps in state, besides its inputs. */
export interface SysctlSetRecord {
    /** Value each managed key had before this resource first wrote it (normalised). */
    originals: Record<string, string>;
    /** Keys absent on the host and skipped under onMissing: "skip". */
    skipped: string[];
    /** The persistence file this resource owns, when persisting. */
    persistedFile?: string;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
    /** What each persistence file path held before this resource first wrote it, and the directories it created. */
    managedFiles?: ManagedFiles;
}

export interface SysctlPlan {
    writes: Write[];
    file: FileAction;
    ledger: LedgerAction;
    record: SysctlSetRecord;
    /** Value each key will hold afterwards, by canonical key. */
    expected: Record<string, string>;
    /** What the persistence file holds afterwards, when persisting. */
    persistedContent?: string;
    warnings: string[];
}

export class MissingKeysError extends Error {}

const WHY_MISSING = "(an older kernel, a module not loaded, or a global-only key inside a network namespace or container)";
const WHY_READ_ONLY = "(a global key inside a network namespace, or /proc/sys mounted read-only as in a container)";

/** Whether a key the host lacks (or will not let be written) is skipped: under onMissing: "skip", unless it is one of `requiredKeys`. */
export function skipsMissing(inputs: Pick<SysctlSetInputs, "onMissing" | "requiredKeys">, key: string): boolean {
    return inputs.onMissing === "skip" && !(inputs.requiredKeys ?? []).some((required) => canonicalKey(required) === canonicalKey(key));
}

/**
 * What planApply would refuse, at check: each declared key the host lacks or will not let be
 * written that is not skipped (see skipsMissing), on its own property. `byModule`: keys whose
 * absence the module check judges (a module in `modules` creates them, or it names the module to load).
 */
export function unwritableKeys(inputs: SysctlSetInputs, snapshot: HostSnapshot, target: string, byModule: ReadonlySet<string>): CheckFailure[] {
    const howToSkip = inputs.onMissing === "skip" ? "it is one of requiredKeys, which are never skipped" : 'set onMissing: "skip" to skip it';
    return Object.keys(inputs.settings).flatMap((key) => {
        const live = snapshot.values.get(canonicalKey(key));
        if (live?.state === "unreadable") {
            // No original to record, so none to put back: the apply would refuse it, skipped or not.
            const why = /stable_secret$/.test(canonicalKey(key)) && /Input\/output error/.test(live.message)
                ? "is unset here (the kernel answers EIO until it is set once, and cannot unset it again), so there is no original to put back on delete: set it once outside Pulumi, then declare it"
                : `cannot be read here (${live.message}), so its original could not be recorded`;
            return [{ property: `settings[${JSON.stringify(key)}]`, reason: `${target}: ${canonicalKey(key)} ${why}` }];
        }
        const why =
            live?.state === "missing" && !byModule.has(key)
                ? `does not exist on this host ${WHY_MISSING}`
                : live?.state === "readonly"
                  ? `is read-only here ${WHY_READ_ONLY}`
                  : undefined;
        return why && !skipsMissing(inputs, key) ? [{ property: `settings[${JSON.stringify(key)}]`, reason: `${target}: ${canonicalKey(key)} ${why}; ${howToSkip}` }] : [];
    });
}

function managedKeys(inputs: SysctlSetInputs): [string, SettingValue][] {
    return Object.entries(inputs.settings).map(([key, value]) => [canonicalKey(key), value]);
}

/**
 * The writeback limits the kernel keeps as a ratio or a byte count, one in force: writing one
 * sets its partner to 0 (mm/page-writeback.c), and a byte count refuses 0. Putting back a byte
 * count that was 0 is writing its partner's original.
 */
const WRITEBACK_PARTNERS: Record<string, string> = {
    "vm.dirty_bytes": "vm.dirty_ratio",
    "vm.dirty_ratio": "vm.dirty_bytes",
    "vm.dirty_background_bytes": "vm.dirty_background_ratio",
    "vm.dirty_background_ratio": "vm.dirty_background_bytes",
};

/** The key the kernel keeps in one with `key` (dirty_ratio with dirty_bytes), if any. */
export const writebackPartner = (key: string): string | undefined => WRITEBACK_PARTNERS[key];

/** Partners of declared keys that are not declared themselves: their originals are kept too, for the restore. */
export function writebackCompanions(inputs: SysctlSetInputs): string[] {
    const declared = new Set(managedKeys(inputs).map(([key]) => key));
    return [...new Set([...declared].map((key) => WRITEBACK_PARTNERS[key]).filter((p): p is string => p !== undefined && !declared.has(p)))];
}

/** What to write to put `originals` back: a key whose original is 0 and whose partner goes back to a value in force is left to that write. */
export function restoreWrites(originals: readonly [string, string][]): Write[] {
    const back = new Map(originals);
    const leftToPartner = (key: string, value: string) => {
        const partner = WRITEBACK_PARTNERS[key];
        return partner !== undefined && sameValue(value, "0") && back.has(partner) && !sameValue(back.get(partner)!, "0");
    };
    return originals.filter(([key, value]) => !leftToPartner(key, value)).map(([key, value]) => ({ key, value }));
}

export function keysToRead(inputs: SysctlSetInputs, previous?: SysctlSetRecord): string[] {
    const keys = new Set([...managedKeys(inputs).map(([key]) => key), ...writebackCompanions(inputs)]);
    for (const key of Object.keys(previous?.originals ?? {})) {
        keys.add(key);
    }
    return [...keys];
}

/**
 * The persistence files a record manages. State from before their originals were kept knows only
 * the file it wrote, and that as one it created: delete removes it, as it did then.
 */
export function managedFilesOf(record: SysctlSetRecord | undefined): ManagedFiles | undefined {
    if (record?.managedFiles || record?.persistedFile === undefined) {
        return record?.managedFiles;
    }
    return { originals: { [record.persistedFile]: ABSENT }, written: {}, createdDirs: [] };
}

/** Persistence file paths an apply (or delete) must read: the one it persists to, first, then every one it manages. */
export function filesToRead(inputs: SysctlSetInputs | undefined, record?: SysctlSetRecord): string[] {
    const persisted = inputs?.persist ? [persistFileOf(inputs)] : [];
    return [...new Set([...persisted, ...Object.keys(managedFilesOf(record)?.originals ?? {})])];
}

/** After an interrupted run: the files and directories its ledger kept. */
function recoveredFiles(ledger: Ledger | undefined): ManagedFiles | undefined {
    return ledger && { originals: { ...(ledger.files ?? {}) }, written: {}, createdDirs: [...(ledger.createdDirs ?? [])] };
}

/**
 * `paths` put back as they were before this resource. A path the read did not cover (a
 * recovered ledger's, when persistFile changed since) is put back without comparing.
 */
function putBackFiles(managed: ManagedFiles, paths: readonly string[], snapshot: HostSnapshot, target: string, removeDirs: boolean): RestorePlan {
    const read = paths.filter((path) => snapshot.ownPaths.has(path));
    const plan = planFilesRestore(managed, (path) => snapshot.ownPaths.get(path) ?? ABSENT, target, { paths: read, removeDirs });
    for (const path of paths.filter((p) => !read.includes(p))) {
        putBack(plan.changes, path, managed.originals[path]);
    }
    return plan;
}

export function renderPersistFile(resourceName: string, values: Record<string, string>): string {
    const lines = [
        `# Managed by pulumi-linux-tuning (SysctlSet "${resourceName.replace(/[\r\n]/g, " ")}").`,
        "# Local edits are reported as drift and overwritten by the next `pulumi up`.",
        ...Object.entries(values).map(([key, value]) => `${key} = ${value}`),
    ];
    return lines.join("\n") + "\n";
}

/**
 * Other files that set a managed key otherwise and win at boot: systemd-sysctl applies the sysctl.d
 * files in the order of their names, so with our file persisted only one sorting after it (or
 * /etc/sysctl.conf, which `sysctl --system` applies after them all) undoes ours; not persisted,
 * any does.
 */
function otherWriterWarnings(writers: OtherWriter[], expected: Record<string, string>, ownFile: string | undefined, target: string): string[] {
    // A writeback limit's partner set to anything but 0 undoes it too: the kernel keeps one of the two.
    const partnerOf = (w: OtherWriter) => {
        const partner = writebackPartner(w.key);
        return partner !== undefined && partner in expected && !(w.key in expected) && !sameValue(normalise(w.value), "0") ? partner : undefined;
    };
    return writers
        .filter((w) => (w.key in expected && !sameValue(comparable(w.key, w.value), comparable(w.key, expected[w.key]))) || partnerOf(w) !== undefined)
        .filter((w) => ownFile === undefined || w.file === "/etc/sysctl.conf" || posix.basename(w.file) > posix.basename(ownFile))
        .map((w) => {
            const why =
                ownFile === undefined
                    ? "this SysctlSet persists nothing, so at boot that file's value is the one set"
                    : w.file === "/etc/sysctl.conf"
                      ? "`sysctl --system` applies that file after every sysctl.d file, undoing this setting"
                      : `it sorts after ${ownFile}, so at boot it is applied last and wins`;
            const partner = partnerOf(w);
            const ours = partner ? `which puts ${partner} to 0; we set ${partner} = ${shownValue(partner, expected[partner])}` : `we set ${shownValue(w.key, expected[w.key])}`;
            return `${target}: ${w.file} also sets ${w.key} = ${shownValue(w.key, w.value)} (${ours}); ${why}`;
        });
}

/**
 * Plans create and update. `previous` is the record of an existing resource: its originals
 * are kept, keys it no longer declares are restored, and its old file is removed if renamed.
 */
/** Who owns this SysctlSet's keys in the host's ledger. */
export const ownerOf = (inputs: SysctlSetInputs) => inputs.owner ?? inputs.resourceName;

/**
 * Declared keys another resource's ledger holds, one message each naming the owner and the way
 * out: another SysctlSet's (none under takeOver, which moves them here), or another kind's,
 * whose restore would fight ours (PacketSteering's RFS table size) and which no takeOver moves.
 */
export function ownershipConflicts(inputs: SysctlSetInputs, snapshot: HostSnapshot, ownLedger = ledgerPath(ownerOf(inputs))): string[] {
    const keys = managedKeys(inputs).map(([key]) => key);
    const sysctlOwners = inputs.takeOver ? new Map<string, Ledger>() : foreignOwners(snapshot.ledgers, ownLedger, keys);
    const persistFile = inputs.persist ? persistFileOf(inputs) : undefined;
    // One owner per persistence file too: a second would take the first's file for its original.
    const fileOwners = [...snapshot.ledgers].filter(([file, ledger]) => file !== ownLedger && persistFile !== undefined && persistFile in (ledger.files ?? {})).map(([, ledger]) => ledger.owner);
    return [
        ...fileOwners.map((owner) => `${persistFile} is the persistence file of ${owner} (its ledger on the host); give this SysctlSet another persistFile`),
        ...[...sysctlOwners].map(([key, ledger]) => `${key} is managed by ${ledger.owner} (its ledger on the host); remove it there, or set takeOver: true (its original value comes along)`),
        ...keys.filter((key) => snapshot.otherOwners?.has(key)).map((key) => `${key} is managed by ${snapshot.otherOwners!.get(key)} (its ledger on the host); remove it there first`),
    ];
}

/**
 * Why `persistFile` cannot be ours on this host: a symbolic link (Debian's
 * /etc/sysctl.d/99-sysctl.conf → ../sysctl.conf) would have the write change the file it points
 * to, another file, which restore could not put back.
 */
export function persistFileProblem(inputs: SysctlSetInputs, snapshot: HostSnapshot): string | undefined {
    if (!inputs.persist) {
        return undefined;
    }
    const file = persistFileOf(inputs);
    const content = snapshot.ownPaths.get(file);
    return content?.kind === "link"
        ? `${file} is a symbolic link to ${content.target}: writing it would change that file, which is not this SysctlSet's to put back; name a file of its own (such as the default, ${defaultPersistFile(inputs.resourceName)})`
        : undefined;
}

/**
 * The persistence file: ours written where the path holds anything else, its original taken the
 * first time; paths no longer ours (persist off, or persistFile changed) put back as they were,
 * before ours is written; with persist off, the directories made for them removed when empty.
 */
function planFiles(inputs: SysctlSetInputs, snapshot: HostSnapshot, target: string, expected: Record<string, string>, previous: ManagedFiles | undefined) {
    const persistFile = persistFileOf(inputs);
    const pathAt = (p: string): PathContent => {
        const content = snapshot.ownPaths.get(p);
        if (!content) {
            throw new Error(`${target}: ${p} was not read, so what it holds now cannot be kept. Nothing was changed.`);
        }
        return content;
    };
    let managed = previous;
    const persistedContent = inputs.persist ? renderPersistFile(inputs.resourceName, expected) : undefined;
    if (persistedContent !== undefined) {
        managed = manage(managed, pathAt, { [persistFile]: fileContent(persistedContent) });
    }
    let changes: FileChanges = {};
    const warnings: string[] = [];
    const stale = Object.keys(managed?.originals ?? {}).filter((p) => persistedContent === undefined || p !== persistFile);
    if (managed && stale.length > 0) {
        const restore = putBackFiles(managed, stale, snapshot, target, persistedContent === undefined);
        changes = restore.changes;
        warnings.push(...restore.warnings);
        managed = forget(managed, stale);
        if (persistedContent === undefined) {
            managed = { ...managed, createdDirs: [] };
        }
    }
    const file: FileAction = { changes };
    if (persistedContent !== undefined && !samePathContent(pathAt(persistFile), fileContent(persistedContent))) {
        // The kernel keeps a secret key's file root's alone; so is the file that sets it at boot.
        (changes.write ??= []).push({ path: persistFile, content: persistedContent, ...(Object.keys(expected).some(isSecretKey) && { mode: "0600" }) });
        file.dir = persistFile.slice(0, persistFile.lastIndexOf("/"));
    }
    return { file, managed, persistedContent, warnings };
}

export function planApply(inputs: SysctlSetInputs, snapshot: HostSnapshot, target: string, previous?: SysctlSetRecord): SysctlPlan {
    // The ledger it has (a stack or project renamed since keeps it), else its owner's.
    const path = ownLedgerPath(inputs, previous);
    const conflicts = ownershipConflicts(inputs, snapshot, path);
    if (conflicts.length > 0) {
        throw new OwnedKeyError(`${target}: ${conflicts.join("; ")}. Nothing was changed.`);
    }
    const fileProblem = persistFileProblem(inputs, snapshot);
    if (fileProblem) {
        throw new Error(`${target}: ${fileProblem}. Nothing was changed.`);
    }
    // A create after an interrupted run finds its own ledger: those are the true originals.
    const ownLedger = snapshot.ledgers.get(path);
    const ledgered = ownLedger?.originals ?? {};
    // The writeback companions too: the pair moves whole, each key with the original its owner recorded.
    const takenOver = inputs.takeOver ? foreignOwners(snapshot.ledgers, path, [...managedKeys(inputs).map(([key]) => key), ...writebackCompanions(inputs)]) : new Map();
    const writes: Write[] = [];
    const expected: Record<string, string> = {};
    const originals: Record<string, string> = {};
    const skipped: string[] = [];
    const missing: string[] = [];
    const readOnly: string[] = [];
    const unreadable: string[] = [];

    for (const [key, desired] of managedKeys(inputs)) {
        const live = snapshot.values.get(key);
        if (!live || live.state === "missing" || live.state === "readonly") {
            if (skipsMissing(inputs, key)) {
                skipped.push(key);
            } else {
                (live?.state === "readonly" ? readOnly : missing).push(key);
            }
            continue;
        }
        if (live.state === "unreadable") {
            unreadable.push(`${key} (${live.message})`);
            continue;
        }
        originals[key] = previous?.originals[key] ?? ledgered[key] ?? takenOver.get(key)?.originals[key] ?? live.value;
        const wanted = targetValue(desired, live.value);
        expected[key] = wanted;
        if (!sameValue(wanted, live.value)) {
            writes.push({ key, value: wanted });
        }
    }
    if (missing.length > 0 || readOnly.length > 0) {
        const reasons = [
            missing.length > 0 &&
                `${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not exist on this host ${WHY_MISSING}`,
            readOnly.length > 0 && `${readOnly.join(", ")} ${readOnly.length === 1 ? "is" : "are"} read-only here ${WHY_READ_ONLY}`,
        ].filter(Boolean);
        const howToSkip = inputs.onMissing === "skip" ? "They are in requiredKeys, which are never skipped" : 'Set onMissing: "skip" to skip them';
        throw new MissingKeysError(`${target}: ${reasons.join("; ")}. ${howToSkip}. Nothing was changed.`);
    }
    if (unreadable.length > 0) {
        throw new Error(`${target}: cannot read ${unreadable.join(", ")}. Nothing was changed.`);
    }
    for (const companion of writebackCompanions(inputs)) {
        const live = snapshot.values.get(companion);
        if (live?.state !== "value") {
            continue;
        }
        originals[companion] = previous?.originals[companion] ?? ledgered[companion] ?? takenOver.get(companion)?.originals[companion] ?? live.value;
        // Written first, as it is, while in force: a rollback of the byte count (to 0, refused)
        // then ends with this write undone, which puts the byte count back to 0 too.
        if (!sameValue(live.value, "0") && writes.some((w) => WRITEBACK_PARTNERS[w.key] === companion)) {
            writes.unshift({ key: companion, value: live.value });
        }
    }

    // Keys no longer declared go back: state's, and those only the ledger knows (an update killed
    // before the engine saved it), whose originals the new ledger would otherwise lose. A key of
    // state's that its own ledger no longer holds was taken over by another SysctlSet: not ours.
    const unrestorable: string[] = [];
    if (inputs.restoreOnDelete) {
        const stateKeys = Object.entries(previous?.originals ?? {}).filter(([key]) => !ownLedger || key in ownLedger.originals);
        const putBack: [string, string][] = [];
        for (const [key, original] of Object.entries({ ...ledgered, ...Object.fromEntries(stateKeys) })) {
            const live = snapshot.values.get(key);
            if (key in expected || key in originals) {
                continue;
            }
            if (live?.state === "value") {
                if (!sameValue(live.value, original)) {
                    putBack.push([key, original]);
                }
            } else if (!(key in (previous?.originals ?? {}))) {
                unrestorable.push(`${target}: ${key}, which only the ledger of an interrupted update held, cannot be put back to ${shownValue(key, original)}: it is ${live ? live.state : "not read"} here now`);
            }
        }
        writes.push(...restoreWrites(putBack));
    }

    // State's files completed by the ledger: an update killed before the engine saved it may have begun to manage one.
    const files = planFiles(inputs, snapshot, target, expected, startingRecord(managedFilesOf(previous), recoveredFiles(snapshot.ledgers.get(path))));
    const managed = files.managed;
    const warnings = [...otherWriterWarnings(snapshot.otherWriters, expected, inputs.persist ? persistFileOf(inputs) : undefined, target), ...files.warnings, ...unrestorable];

    if (skipped.length > 0) {
        warnings.push(`${target}: skipped ${skipped.join(", ")}: absent or read-only on this host (onMissing: "skip")`);
    }
    return {
        writes,
        file: files.file,
        ledger: { path, record: renderLedger({ owner: ownerOf(inputs), originals, files: managed?.originals, createdDirs: managed?.createdDirs }), takeOver: inputs.takeOver },
        expected,
        persistedContent: files.persistedContent,
        warnings,
        record: { originals, skipped, persistedFile: inputs.persist ? persistFileOf(inputs) : undefined, ledgerFile: path, managedFiles: managed },
    };
}

/**
 * Keys and files the resource's own ledger holds that neither its old inputs nor its new ones
 * declare: what an update killed before the engine saved it left (in steady state the ledger
 * holds exactly the declared keys and persistence file). `olds`: the old inputs, as check has
 * them. Its ledger is the one its owner, new or old, wrote: after `pulumi stack rename` it keeps
 * the file named after the old owner.
 */
export function ledgerOnlyItems(ledgers: ReadonlyMap<string, Ledger>, olds: Record<string, unknown>, inputs: SysctlSetInputs): { file: string; items: string[] } | undefined {
    const old = sysctlSetInputsSchema.safeParse(olds);
    const declared = [inputs, ...(old.success ? [old.data] : [])];
    const owners = new Set(declared.map(ownerOf));
    const own = [...ledgers].find(([, ledger]) => owners.has(ledger.owner));
    if (!own) {
        return undefined;
    }
    const [file, ledger] = own;
    const keys = declared.flatMap((i) => [...Object.keys(i.settings).map(canonicalKey), ...writebackCompanions(i)]);
    const items = ledgerBeyond(ledger, keys, declared.filter((i) => i.persist).map(persistFileOf));
    return items.length > 0 ? { file, items } : undefined;
}

/** The keys and files `ledger` holds besides `keys` and `files`. */
export function ledgerBeyond(ledger: Ledger, keys: readonly string[], files: readonly string[]): string[] {
    return [...Object.keys(ledger.originals).filter((key) => !keys.includes(key)), ...Object.keys(ledger.files ?? {}).filter((path) => !files.includes(path))];
}

/** The resource's own ledger file: the one state names (kept after a stack rename), else its owner's. */
export const ownLedgerPath = (inputs: SysctlSetInputs, previous?: SysctlSetRecord): string => previous?.ledgerFile ?? ledgerPath(ownerOf(inputs));

/**
 * What a delete restores: state's record completed from its own ledger (the keys and files an
 * update killed before the engine saved it added), so destroy undoes that update too.
 */
export function sysctlRecordToRestore(record: SysctlSetRecord, ledgers: ReadonlyMap<string, Ledger>): SysctlSetRecord {
    const ledger = record.ledgerFile ? ledgers.get(record.ledgerFile) : undefined;
    if (!ledger) {
        return record;
    }
    return { ...record, originals: { ...ledger.originals, ...record.originals }, managedFiles: startingRecord(managedFilesOf(record), recoveredFiles(ledger)) };
}

/**
 * Plans delete: every original back, the persistence file's path as it was before (byte for
 * byte; state from before that was kept: removed), the directories made for it removed when
 * empty, the ledger gone. Keys another SysctlSet took over (no longer in this one's ledger) are
 * left to it.
 */
export function planRestore(record: SysctlSetRecord, snapshot: HostSnapshot, restore: boolean, target: string): { writes: Write[]; file: FileAction; ledger?: LedgerAction; warnings: string[] } {
    const writes: Write[] = [];
    const ledgered = record.ledgerFile ? snapshot.ledgers.get(record.ledgerFile)?.originals : undefined;
    if (restore) {
        const putBack = Object.entries(record.originals).filter(([key, original]) => {
            const live = snapshot.values.get(key);
            return !(ledgered && !(key in ledgered)) && live?.state === "value" && !sameValue(live.value, original);
        });
        writes.push(...restoreWrites(putBack));
    }
    const managed = managedFilesOf(record);
    const files = managed ? putBackFiles(managed, Object.keys(managed.originals), snapshot, target, true) : { changes: {}, warnings: [] };
    return { writes, file: { changes: files.changes }, ledger: record.ledgerFile ? { path: record.ledgerFile } : undefined, warnings: files.warnings };
}

export interface Drift {
    key: string;
    live: string;
    desired: string;
}

export interface DriftReport {
    values: Drift[];
    /** Why the persistence file is not what we wrote, if it is not. */
    file?: string;
}

/**
 * Compares what the host has now with what the inputs ask for. A bound's value in the persistence
 * file is the live one when it was written: any value there that meets the bound is as written,
 * so the live value moving within the bound since is no edit of the file.
 */
export function detectDrift(inputs: SysctlSetInputs, snapshot: HostSnapshot, skipped: readonly string[]): DriftReport {
    const values: Drift[] = [];
    const expected: Record<string, string> = {};
    for (const [key, desired] of managedKeys(inputs)) {
        const live = snapshot.values.get(key);
        if (!live || live.state !== "value") {
            // Skipped while missing; one the host now has but will not let be read fails `up`, skipped or not.
            if (!skipped.includes(key) || !skipsMissing(inputs, key) || live?.state === "unreadable") {
                values.push({ key, live: live?.state ?? "missing", desired: describeDesired(desired) });
            }
            continue;
        }
        expected[key] = targetValue(desired, live.value);
        if (!satisfies(desired, live.value)) {
            values.push({ key, live: live.value, desired: describeDesired(desired) });
        }
    }
    let file: string | undefined;
    if (inputs.persist && snapshot.ownFile !== undefined) {
        if (snapshot.ownFile === null) {
            file = `${persistFileOf(inputs)} is missing`;
        } else if (snapshot.ownFile !== renderPersistFile(inputs.resourceName, { ...expected, ...boundsPersisted(inputs, snapshot.ownFile) })) {
            file = `${persistFileOf(inputs)} was edited`;
        }
    }
    return { values, file };
}

/** The values our persistence file gives the declared bounds, where they meet them. */
function boundsPersisted(inputs: SysctlSetInputs, file: string): Record<string, string> {
    const persisted = new Map(file.split("\n").flatMap((line) => {
        const match = /^(\S+) = (.*)$/.exec(line);
        return match ? [[match[1], match[2]] as const] : [];
    }));
    return Object.fromEntries(
        managedKeys(inputs).flatMap(([key, desired]) => {
            const value = persisted.get(key);
            return isBound(desired) && value !== undefined && satisfies(desired, value) ? [[key, value]] : [];
        }),
    );
}

export function describeDesired(desired: SettingValue): string {
    if (typeof desired === "object" && !Array.isArray(desired)) {
        return "atLeast" in desired ? `>= ${normalise(desired.atLeast)}` : "atMost" in desired ? `<= ${normalise(desired.atMost)}` : `covering ${normalise(desired.covers)}`;
    }
    return normalise(desired);
}

export function describeDrift(drift: DriftReport): string[] {
    const described = (d: DriftReport["values"][number]) => (isSecretKey(d.key) ? `${d.key} differs from the declared value (a secret, not shown)` : `${d.key} live ${d.live}, desired ${d.desired}`);
    return [...drift.values.map(described), ...(drift.file ? [drift.file] : [])];
}

/** Live settings in the shape the user declared; skipped keys keep their declared value. */
export function liveSettings(inputs: SysctlSetInputs, snapshot: HostSnapshot): Record<string, SettingValue> {
    const result: Record<string, SettingValue> = {};
    for (const [key, desired] of Object.entries(inputs.settings)) {
        const live = snapshot.values.get(canonicalKey(key));
        const shaped = live?.state === "value" ? inDeclaredShape(desired, live.value) : desired;
        // A live value no one could declare (an emptied ip_local_reserved_ports) would not parse as
        // inputs again: the declared one stands, and the live read at every diff shows the drift.
        result[key] = declarable(key, shaped) ? shaped : desired;
    }
    return result;
}
