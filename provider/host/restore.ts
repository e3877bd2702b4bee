import { FileChanges, FileData, FileSnapshot, fileDataOf, fileIn } from "./files";

/**
 * Byte-exact restore of what a resource changes in /etc. For every path it writes, the state
 * keeps what the path held before the resource first changed it (its exact bytes, a symlink's
 * target, or its absence) and what the resource last put there; and every directory it had to
 * create. Delete puts each path back and removes those directories when they are empty.
 */

/** What a path holds: nothing, a file's exact bytes, or a symlink's own target. */
/** A file's `mode` (octal, as `stat -c %a` prints it) where its reader kept it: put back with the bytes, a mode this resource changed (0600 for a secret) goes back too. */
export type PathContent = { kind: "absent" } | ({ kind: "file"; mode?: string } & FileData) | { kind: "link"; target: string };

export interface ManagedFiles {
    /** Path → what it held before this resource first changed it. */
    originals: Record<string, PathContent>;
    /** Path → what this resource last put there. */
    written: Record<string, PathContent>;
    /** Directories this resource created (they did not exist before). */
    createdDirs: string[];
}

export const ABSENT: PathContent = { kind: "absent" };

export const fileContent = (content: string): PathContent => ({ kind: "file", content });

export const fileOf = (file: FileData): PathContent => ({ kind: "file", ...fileDataOf(file) });

export const linkTo = (target: string): PathContent => ({ kind: "link", target });

export function samePathContent(a: PathContent | undefined, b: PathContent | undefined): boolean {
    if (!a || !b || a.kind !== b.kind) {
        return false;
    }
    if (a.kind === "file") {
        const other = b as FileData;
        return a.content === other.content && a.base64 === other.base64;
    }
    return a.kind === "link" ? a.target === (b as { target: string }).target : true;
}

/** A path as a FileSnapshot saw it; symlinks are only known for `symlink:PATH` requests. */
export function pathContentOf(snapshot: FileSnapshot, path: string): PathContent {
    const target = snapshot.symlinks?.get(path);
    if (target !== undefined) {
        return linkTo(target);
    }
    const file = fileIn(snapshot, path);
    return file ? fileOf(file) : ABSENT;
}

/**
 * Whether the boot unit `unit` is enabled as a persisting resource enables it: `link` (its
 * multi-user.target.wants entry) a symbolic link to it. `systemctl disable`, or the link deleted,
 * leaves the unit file in place and nothing running it at boot.
 */
export function enabledAt(snapshot: FileSnapshot, link: string, unit: string): boolean {
    const content = pathContentOf(snapshot, link);
    return content.kind === "link" && content.target === unit;
}

/**
 * The record after this resource made (or kept) each of `wanted` hold the given content: a
 * path's original is taken from `current` the first time only.
 */
export function manage(previous: ManagedFiles | undefined, current: (path: string) => PathContent, wanted: Record<string, PathContent>): ManagedFiles {
    const managed: ManagedFiles = {
        originals: { ...(previous?.originals ?? {}) },
        written: { ...(previous?.written ?? {}) },
        createdDirs: [...(previous?.createdDirs ?? [])],
    };
    for (const [path, content] of Object.entries(wanted)) {
        if (!(path in managed.originals)) {
            managed.originals[path] = current(path);
        }
        managed.written[path] = content;
    }
    return managed;
}

/** The record with directories an operation reported creating added. */
export function withCreatedDirs(managed: ManagedFiles, dirs: readonly string[]): ManagedFiles {
    return { ...managed, createdDirs: [...new Set([...managed.createdDirs, ...dirs])] };
}

/**
 * The directories this resource made that none of the paths it still manages (or `alsoKept`) lies in, deepest
 * first, and the record without them: an update that put back the last file in one removes it
 * (when empty), as a delete would.
 */
export function releaseUnusedDirs(managed: ManagedFiles, alsoKept: readonly string[] = []): { managed: ManagedFiles; rmdir: string[] } {
    const paths = [...Object.keys(managed.originals), ...alsoKept];
    const unused = managed.createdDirs.filter((dir) => !paths.some((p) => p.startsWith(`${dir}/`)));
    return { managed: { ...managed, createdDirs: managed.createdDirs.filter((dir) => !unused.includes(dir)) }, rmdir: deepestFirst(unused) };
}

/** The record without `paths` (put back by an update). */
export function forget(managed: ManagedFiles, paths: readonly string[]): ManagedFiles {
    const drop = new Set(paths);
    const keep = <T>(record: Record<string, T>) => Object.fromEntries(Object.entries(record).filter(([p]) => !drop.has(p)));
    return { originals: keep(managed.originals), written: keep(managed.written), createdDirs: managed.createdDirs };
}

/** Deepest first, so a parent is tried after its children. */
export function deepestFirst(dirs: readonly string[]): string[] {
    const depth = (d: string) => d.split("/").length;
    return [...new Set(dirs)].sort((a, b) => depth(b) - depth(a) || b.length - a.length || a.localeCompare(b));
}

/** Adds putting `content` at `path` to `changes`. */
export function putBack(changes: FileChanges, path: string, content: PathContent): void {
    if (content.kind === "absent") {
        (changes.remove ??= []).push(path);
    } else if (content.kind === "file") {
        (changes.write ??= []).push({ path, ...fileDataOf(content), ...(content.mode !== undefined && { mode: content.mode }) });
    } else {
        (changes.link ??= []).push({ path, target: content.target });
    }
}

/** What `changes` does to `path`: the content it writes there, null when it removes it, undefined when it leaves it. */
export function changeAt(changes: FileChanges, path: string): FileData | null | undefined {
    if (changes.remove?.includes(path)) {
        return null;
    }
    const written = changes.write?.find((w) => w.path === path);
    return written ? fileDataOf(written) : undefined;
}

export interface RestorePlan {
    changes: FileChanges;
    warnings: string[];
}

/**
 * Puts `paths` (default: every managed path) back as they were before this resource. A path
 * that holds what we wrote gets its original back; one already as it was is left alone; one
 * changed since we wrote it is a file wholly ours (a unit, a rule), so it too gets its original
 * back, with a warning that the changes made since are gone. `removeDirs`: also the directories
 * we created, each removed when empty (on delete).
 */
export function planRestore(
    managed: ManagedFiles,
    current: (path: string) => PathContent,
    target: string,
    options: { paths?: readonly string[]; removeDirs?: boolean } = {},
): RestorePlan {
    const changes: FileChanges = {};
    const warnings: string[] = [];
    for (const path of options.paths ?? Object.keys(managed.originals)) {
        const original = managed.originals[path];
        if (!original) {
            continue;
        }
        const now = current(path);
        if (samePathContent(now, original)) {
            continue;
        }
        const written = managed.written[path];
        if (written && !samePathContent(now, written)) {
            const what = original.kind === "absent" ? "removed it (it did not exist before)" : "put back what it held before";
            warnings.push(`${target}: ${path} was changed since this resource wrote it; ${what}, and the changes made since are gone`);
        }
        putBack(changes, path, original);
    }
    if (options.removeDirs && managed.createdDirs.length > 0) {
        changes.rmdir = deepestFirst(managed.createdDirs);
    }
    return { changes, warnings };
}
