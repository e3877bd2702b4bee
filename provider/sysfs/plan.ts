import { FileChanges, ValueWrite } from "../host/files";
import { itemsOf, originalsUnreadableError } from "../host/ledger";
import { ABSENT, ManagedFiles, PathContent, fileContent, fileOf, forget, manage, planRestore, releaseUnusedDirs } from "../host/restore";
import { SysfsSnapshot } from "./remote";
import { notASettingProblem } from "./schema";

/**
 * Pure planning for sysfs attributes: what a file's value is, what the host cannot take, what
 * to write, what to put back, how the host drifted. No I/O.
 */

/**
 * A file's value; for a selection file the marked word and the words offered. sysfs marks it
 * with brackets ("always [madvise] never"); debugfs's sched/preempt with parentheses, each word
 * followed by a space ("none (voluntary) full ", "(full) " alone on PREEMPT_RT), so a lone
 * "(null)" that a string attribute prints for none stays a value.
 */
export interface Selection {
    value: string;
    choices?: string[];
}

const words = (text: string) => text.trim().split(/\s+/).filter(Boolean);

const MARKS = [
    { marked: /^\[[^\][]+\]$/, mark: /[\][]/, alone: () => true },
    { marked: /^\([^()]+\)$/, mark: /[()]/, alone: (content: string) => /\)[ \t]+\s*$/.test(content) },
];

/** The value a file holds, whitespace normalised; a selection file's marked word, with its choices. */
export function parseSelection(content: string): Selection {
    const tokens = words(content);
    for (const { marked, mark, alone } of MARKS) {
        const selected = tokens.filter((t) => marked.test(t));
        if (selected.length === 1 && (tokens.length > 1 || alone(content)) && tokens.every((t) => t === selected[0] || !mark.test(t))) {
            return { value: selected[0].slice(1, -1), choices: tokens.map((t) => (t === selected[0] ? t.slice(1, -1) : t)) };
        }
    }
    return { value: tokens.join(" ") };
}

/**
 * A block queue's scheduler file lists only the elevators already loaded: writing a modular one
 * (bfq on Debian) has the kernel load `<name>-iosched` first (block/elevator.c), so it is no typo.
 */
const ELEVATORS = new Set(["mq-deadline", "kyber", "bfq", "none"]);
const loadedOnWrite = (path: string, value: string): boolean => /\/queue\/scheduler$/.test(path) && ELEVATORS.has(value);

export function normaliseValue(value: string | number): string {
    return words(String(value)).join(" ");
}

/** Path → value. */
export type PathValues = Record<string, string>;

export interface SysfsRecord {
    /** What each path held before this resource first changed it (a selection file: its word). */
    originals: PathValues;
    /** Paths absent or read-only on the host, skipped under onMissing: "skip". */
    skipped: string[];
    persistedFile?: string;
    /** The tmpfiles.d file as it was before this resource, and the directories it created. */
    managedFiles?: ManagedFiles;
    /** The host-side ledger holding the originals and the owner. */
    ledgerFile?: string;
}

/**
 * What a record changes on the host, as its ledger lists it: each path it writes, by the path
 * declared and by its real path (a symlinked spelling names the same file), and its tmpfiles.d file.
 */
export function sysfsItems(record: SysfsRecord, snapshot: SysfsSnapshot): string[] {
    const paths = Object.keys(record.originals).flatMap((path) => {
        const state = snapshot.get(path);
        return state?.kind === "file" && state.realPath ? [path, state.realPath] : [path];
    });
    return itemsOf(paths, record.managedFiles);
}

export interface PathProblem {
    path: string;
    why: string;
    /** The value is refused (a word the file does not offer), not the path. */
    ofValue?: boolean;
}

/** What the host cannot take: missing, unreadable or read-only paths, and words a selection file does not offer. */
export function assessPaths(desired: PathValues, snapshot: SysfsSnapshot, onMissing: "fail" | "skip"): { problems: PathProblem[]; skipped: string[] } {
    const problems: PathProblem[] = [];
    const skipped: string[] = [];
    const declaredAs = new Map<string, string>();
    for (const [path, value] of Object.entries(desired)) {
        const state = snapshot.get(path) ?? { kind: "absent" };
        let why: string | undefined;
        let skippable = false;
        let ofValue = false;
        const real = state.kind === "file" ? (state.realPath ?? path) : path;
        const twin = declaredAs.get(real);
        declaredAs.set(real, twin ?? path);
        // Judged here, not by the input grammar: a resource created before keeps its refresh and destroy.
        const pathElsewhere = notASettingProblem(path);
        const realElsewhere = notASettingProblem(real);
        if (twin !== undefined) {
            // Two writes to one file, the last winning, and each preview showing the other drifted.
            why = `${path} is the same file as ${twin} (${real}): declare it once`;
        } else if (pathElsewhere) {
            why = `${path} ${pathElsewhere}`;
        } else if (realElsewhere) {
            why = `${path} leads to ${real}, which ${realElsewhere}`;
        } else if (state.kind === "absent") {
            [why, skippable] = [`${path} does not exist on this host`, true];
        } else if (state.kind === "dir") {
            why = `${path} is a directory, not an attribute`;
        } else if (state.kind === "unreadable") {
            why = `${path} cannot be read: ${state.why || "unreadable"}`;
        } else if (!state.writable) {
            [why, skippable] = [`${path} is read-only on this host (the kernel takes no writes there)`, true];
        } else {
            const { choices } = /\/ifalias$/.test(path) ? {} : parseSelection(state.content);
            if (choices && isFreeText(path, value) && words(value).every((word) => choices.includes(word.replace(/^[[(](.*)[\])]$/, "$1")))) {
                // "[never]", "madvise never": the file's listing pasted, which the kernel refuses (and no original would be its word).
                [why, ofValue] = [`"${value}" is words of the listing ${path} shows, not a value: write one word it offers (${choices.join(", ")}), without brackets`, true];
            } else if (choices && !isFreeText(path, value) && !choices.includes(value) && !loadedOnWrite(path, value)) {
                [why, ofValue] = [`"${value}" is not offered by ${path} (it offers ${choices.join(", ")})`, true];
            }
        }
        if (why && skippable && onMissing === "skip") {
            skipped.push(path);
        } else if (why) {
            problems.push(ofValue ? { path, why, ofValue } : { path, why });
        }
    }
    return { problems, skipped };
}

/**
 * A file read whole rather than as a selection's marked word: an interface's ifalias, which holds
 * whatever text it was given ("core [bond0]"), and any file given a value no selection file
 * holds, for a selection's word is one word: several words, or a mark.
 */
export const isFreeText = (path: string, value: string): boolean => /\/ifalias$/.test(path) || /[\s\][()]/.test(value);

/** The live value of each path of `values` that the host has, read as a selection unless its value is free text. */
export function liveValues(values: PathValues, snapshot: SysfsSnapshot): PathValues {
    const live: PathValues = {};
    for (const [path, value] of Object.entries(values)) {
        const state = snapshot.get(path);
        if (state?.kind === "file") {
            live[path] = isFreeText(path, value) ? normaliseValue(state.content) : parseSelection(state.content).value;
        }
    }
    return live;
}

/** A path as the snapshot saw it, for byte-exact restore of the files we write. */
export function contentOf(snapshot: SysfsSnapshot, path: string): PathContent {
    const state = snapshot.get(path);
    return state?.kind === "file" ? fileOf(state) : ABSENT;
}

/**
 * tmpfiles.d `w` lines: systemd-tmpfiles-setup.service writes each value early at boot, before
 * sysinit.target, skipping paths that do not exist. `%` starts a specifier there, so it is doubled.
 */
export function renderTmpfiles(resourceName: string, desired: PathValues): string {
    const lines = [`# Written by pulumi-linux-tuning for ${resourceName.replace(/[\r\n]/g, " ")}; pulumi destroy removes it.`];
    for (const [path, value] of Object.entries(desired).sort(([a], [b]) => a.localeCompare(b))) {
        lines.push(`w ${path} - - - - ${value.replace(/%/g, "%%")}`);
    }
    return lines.join("\n") + "\n";
}

export interface SysfsPlan {
    writes: ValueWrite[];
    files: FileChanges;
    record: SysfsRecord;
    /** What each path will hold (skipped paths left out). */
    desired: PathValues;
    warnings: string[];
}

export interface PlanOptions {
    onMissing: "fail" | "skip";
    persist: boolean;
    restoreOnDelete: boolean;
    resourceName: string;
    tmpfilesFile: string;
    target: string;
    /** The input a path's value comes from, for messages: `settings["/sys/…"]`, `enabled`. */
    property: (path: string) => string;
    /** The input the path itself comes from, where another (a CPU list): what a missing path is reported on. */
    pathProperty?: (path: string) => string;
}

/** The input a problem is reported on: the value's, or the path's where the path is at fault. */
export const problemProperty = (problem: PathProblem, options: Pick<PlanOptions, "property" | "pathProperty">): string =>
    (problem.ofValue ? undefined : options.pathProperty?.(problem.path)) ?? options.property(problem.path);

/**
 * Puts back every file this resource manages that is no longer its tmpfiles.d file: all of them
 * when persistence is turned off, and one a recovered ledger names under another resource name.
 * Left, it would set the values again at every boot and outlive destroy.
 */
function unmanageStale(managed: ManagedFiles | undefined, current: string | undefined, snapshot: SysfsSnapshot, target: string): { files: FileChanges; warnings: string[]; managed?: ManagedFiles } {
    const stale = Object.keys(managed?.originals ?? {}).filter((path) => path !== current);
    if (!managed || stale.length === 0) {
        return { files: {}, warnings: [], managed };
    }
    const restore = planRestore(managed, (p) => contentOf(snapshot, p), target, { paths: stale });
    // A directory made for a file no longer kept goes too (when empty), as a delete would take it.
    const released = releaseUnusedDirs(forget(managed, stale), current ? [current] : []);
    const files = released.rmdir.length > 0 ? { ...restore.changes, rmdir: released.rmdir } : restore.changes;
    return { files, warnings: restore.warnings, managed: released.managed };
}

/**
 * Create/update: originals taken the first time a path is seen (before any write), only the
 * differing paths written, paths dropped from the set put back, then the tmpfiles.d file.
 * Throws, naming the input and the host, when the host cannot take the values: nothing written.
 */
export function planSysfs(wanted: PathValues, snapshot: SysfsSnapshot, options: PlanOptions, previous?: SysfsRecord): SysfsPlan {
    const { problems, skipped } = assessPaths(wanted, snapshot, options.onMissing);
    if (problems.length > 0) {
        const reasons = problems.map((p) => `${problemProperty(p, options)}: ${p.why}`);
        throw new Error(`${options.target}: ${reasons.join("; ")}. Nothing was changed.`);
    }
    const desired = Object.fromEntries(Object.entries(wanted).filter(([path]) => !skipped.includes(path)));
    const live = liveValues(desired, snapshot);
    const writes: ValueWrite[] = [];
    const originals: PathValues = {};
    // A path declared now under another spelling of a file this resource changed before
    // (/sys/class/net/IF/… for /sys/devices/…/net/IF/…) keeps that file's original: the live value is this resource's own.
    const realOf = (path: string) => {
        const state = snapshot.get(path);
        return state?.kind === "file" ? (state.realPath ?? path) : path;
    };
    const previousByFile = new Map(Object.entries(previous?.originals ?? {}).map(([path, original]) => [realOf(path), original]));
    const originalOf = (path: string) => previous?.originals[path] ?? previousByFile.get(realOf(path));
    for (const [path, value] of Object.entries(desired)) {
        originals[path] = originalOf(path) ?? live[path];
        if (live[path] !== value) {
            writes.push({ path, value });
        }
    }
    // A path skipped now (gone, or read-only for a while) keeps the original this resource took:
    // were it to come back, a fresh read could take this resource's own value for the host's.
    for (const path of skipped) {
        const original = originalOf(path);
        if (original !== undefined) {
            originals[path] = original;
        }
    }
    const warnings = skipped.length > 0 ? [`${options.target}: skipped ${skipped.join(", ")}: absent or read-only on this host (onMissing: "skip")`] : [];
    // systemd-tmpfiles-setup is ordered after the local filesystems, not after udev's coldplug, which probes and renames NICs.
    const onNics = Object.keys(desired).filter((path) => path.startsWith("/sys/class/net/") || /\/net\/[^/]+\//.test(realOf(path)));
    if (options.persist && onNics.length > 0) {
        warnings.push(
            `${options.target}: ${onNics.join(", ")} ${onNics.length === 1 ? "is a NIC's attribute" : "are NICs' attributes"}: systemd-tmpfiles sets them at boot without waiting for udev to bring the NIC up, so a line whose NIC is not there yet is skipped (preview --refresh shows it as drift after such a boot)`,
        );
    }
    if (previous && options.restoreOnDelete) {
        const keptFiles = new Set(Object.keys(originals).map(realOf));
        const dropped = Object.entries(previous.originals).filter(([path]) => !(path in originals) && !keptFiles.has(realOf(path)));
        const restore = restoreWrites(Object.fromEntries(dropped), snapshot, options.target);
        writes.push(...restore.writes);
        warnings.push(...restore.warnings);
    }
    const stale = unmanageStale(previous?.managedFiles, options.persist ? options.tmpfilesFile : undefined, snapshot, options.target);
    const files: FileChanges = stale.files;
    let managedFiles = stale.managed;
    warnings.push(...stale.warnings);
    if (options.persist) {
        const content = renderTmpfiles(options.resourceName, desired);
        const now = contentOf(snapshot, options.tmpfilesFile);
        if (now.kind !== "file" || now.content !== content) {
            files.write = [...(files.write ?? []), { path: options.tmpfilesFile, content }];
        }
        managedFiles = manage(managedFiles, (p) => contentOf(snapshot, p), { [options.tmpfilesFile]: fileContent(content) });
    }
    const record: SysfsRecord = { originals, skipped, persistedFile: options.persist ? options.tmpfilesFile : undefined, managedFiles };
    return { writes, files, record, desired, warnings };
}

/**
 * Each path whose live value differs from its original gets the original back. Paths gone from
 * the host are left, and so are paths that have turned read-only (a write would fail the whole
 * operation and put nothing back), each with a warning. A path there that cannot be read now (a
 * device in reset answering EIO) fails the operation before anything is written: with its
 * original unknown to be needed or not, dropping it would lose it with the ledger.
 */
function restoreWrites(originals: PathValues, snapshot: SysfsSnapshot, target: string): { writes: ValueWrite[]; warnings: string[] } {
    const live = liveValues(originals, snapshot);
    const writes: ValueWrite[] = [];
    const warnings: string[] = [];
    const unreadable: string[] = [];
    for (const [path, original] of Object.entries(originals)) {
        const state = snapshot.get(path);
        if (state?.kind === "unreadable") {
            unreadable.push(`${path} (${state.why || "unreadable"})`);
            continue;
        }
        if (state?.kind !== "file") {
            warnings.push(`${target}: left ${path} as it is: it is gone from this host, so its original ${original} cannot go back`);
            continue;
        }
        if (live[path] === original) {
            continue;
        }
        if (state.writable) {
            // A driver_override unset reads "(null)": written back, that would name a driver. An empty write unsets it.
            writes.push({ path, value: /\/driver_override$/.test(path) && original === "(null)" ? "" : original });
        } else {
            warnings.push(`${target}: left ${path} at ${live[path]}: it is read-only now, so its original ${original} cannot go back`);
        }
    }
    if (unreadable.length > 0) {
        throw originalsUnreadableError(target, unreadable);
    }
    return { writes, warnings };
}

/** Delete: originals back, the tmpfiles.d file back as it was (gone, usually), directories we created removed when empty. */
export function planSysfsRestore(record: SysfsRecord, snapshot: SysfsSnapshot, restore: boolean, target: string): { writes: ValueWrite[]; files: FileChanges; warnings: string[] } {
    const { writes, warnings } = restore ? restoreWrites(record.originals, snapshot, target) : { writes: [], warnings: [] };
    if (!record.managedFiles) {
        return { writes, files: {}, warnings };
    }
    const plan = planRestore(record.managedFiles, (p) => contentOf(snapshot, p), target, { removeDirs: true });
    return { writes, files: plan.changes, warnings: [...warnings, ...plan.warnings] };
}

/** "in place", "missing", "edited", or "not persisted". */
export function persistedStatus(snapshot: SysfsSnapshot, file: string | undefined, expected: string): string {
    if (!file) {
        return "not persisted";
    }
    const state = snapshot.get(file);
    return state?.kind !== "file" ? "missing" : state.content === expected ? "in place" : "edited";
}

/**
 * Paths skipped at the last apply (absent or read-only then) that the host now takes: a NIC
 * plugged in, a driver loaded. Drift until an `up` sets them, as the declared settings say.
 */
export function pathsNowPresent(recorded: SysfsRecord, wanted: PathValues, snapshot: SysfsSnapshot, onMissing: "fail" | "skip"): string[] {
    const { problems, skipped } = assessPaths(wanted, snapshot, onMissing);
    return recorded.skipped.filter((path) => path in wanted && !skipped.includes(path) && !problems.some((p) => p.path === path));
}

/** Per path: `PATH live X, desired Y` for each path that differs. */
export function sysfsDrift(desired: PathValues, live: PathValues): string[] {
    return Object.entries(desired)
        .filter(([path, value]) => live[path] !== value)
        .map(([path, value]) => `${path} live ${live[path] ?? "absent"}, desired ${value}`);
}

/** Values the kernel reads back differently from what it accepted (it normalised them): they would show as drift. */
export function readBackWarnings(desired: PathValues, after: PathValues, target: string): string[] {
    return Object.entries(after)
        .filter(([path, value]) => path in desired && value !== desired[path])
        .map(([path, value]) => `${target}: ${path} took "${desired[path]}" but reads back "${value}"; declare "${value}" or every preview shows drift`);
}
