import { z } from "zod";
import { persistFileNamesFit } from "../check";
import { ownerSchema } from "../host/ledger";
import { Connection, optionalConnectionSchema } from "../transport/connection";

/** A sysfs write is at most one page, its newline included. */
export const MAX_VALUE_LENGTH = 4095;
/**
 * An apply passes every path, its original, its real path and the ledger on one command line,
 * which Linux caps at 128 KiB (MAX_ARG_STRLEN). Measured through the real planning code: 150
 * paths and 12,000 characters of paths and values make at most ~94 KB with long PCI real paths.
 */
export const MAX_PATHS = 150;
export const MAX_DECLARED_CHARACTERS = 12_000;
const MAX_PATH_LENGTH = 4095;

/** SysfsSet's `kind` in tmpfilesPath. */
export const SYSFS_TMPFILES_KIND = "sysfs";

const PATH_COMPONENT = /^[A-Za-z0-9_.:+@,-]{1,255}$/;

/**
 * Where other filesystems are mounted under /sys whose files are not attributes with one value to
 * read back and put back: cgroup.procs moves processes (and systemd owns the tree), an efivars
 * write reaches the firmware, securityfs and selinuxfs load security policy. debugfs and tracefs
 * are left open: tuned's scheduler knobs live in /sys/kernel/debug/sched since Linux 5.13.
 */
const OTHER_FILESYSTEMS: [string, string][] = [
    ["/sys/kernel/security", "securityfs"],
    ["/sys/kernel/config", "configfs"],
    ["/sys/fs/cgroup", "cgroup"],
    ["/sys/fs/bpf", "bpf"],
    ["/sys/fs/pstore", "pstore"],
    ["/sys/fs/selinux", "selinuxfs"],
    ["/sys/fs/fuse/connections", "fusectl"],
    ["/sys/firmware/efi/efivars", "efivarfs"],
];

/** Why `path` lies on a filesystem mounted under /sys that is not sysfs, or undefined. */
function otherFilesystemProblem(path: string): string | undefined {
    const mount = OTHER_FILESYSTEMS.find(([point]) => path === point || path.startsWith(`${point}/`));
    return mount && `is on ${mount[1]} (mounted at ${mount[0]}), not sysfs: SysfsSet writes only sysfs attributes, whose values it can read back and put back`;
}

/**
 * sysfs files that act rather than hold a value: writing one does something each time, and there
 * is no original to put back. Write-only ones (bind, remove, rescan) fail the read already.
 */
const ACTIONS: [RegExp, string][] = [
    [/\/uevent$/, "sends the device's uevent again (udev runs its rules) on each write"],
    [/^\/sys\/power\/state$/, "suspends or hibernates the host on each write"],
    [/^\/sys\/power\/resume$/, "resumes from a hibernation image on that device when written"],
    [/^\/sys\/power\/wakeup_count$/, "is a handshake with a suspend in progress, not a setting"],
    // Lists that show every entry and take one change per write: no value to read back and put back.
    [/^\/sys\/kernel\/debug\/sched(\/features|_features)$/, "lists every scheduler feature and takes one (NAME or NO_NAME) per write"],
    [/^\/sys\/kernel\/debug\/dynamic_debug\/control$/, "lists every debug call site and takes one query per write"],
    [
        /^\/sys\/kernel\/(debug\/)?tracing\/(.*\/)?(set_[a-z_]+|[a-z]*_events|trace|trace_marker(_raw)?|trace_options|trigger|stack_trace_filter)$/,
        "edits a tracing list, or the trace buffer, on each write rather than holding one value",
    ],
];

/** Why `path` is not a setting SysfsSet writes: on another filesystem, or an action. */
export function notASettingProblem(path: string): string | undefined {
    const action = ACTIONS.find(([pattern]) => pattern.test(path));
    return otherFilesystemProblem(path) ?? (action && `${action[1]}: SysfsSet writes only attributes that hold a value it can read back and put back`);
}

/** Why `path` is not a sysfs attribute path we write, or undefined. */
export function sysfsPathProblem(path: string): string | undefined {
    if (path.length > MAX_PATH_LENGTH) {
        return `is ${path.length} characters; a path is at most ${MAX_PATH_LENGTH}`;
    }
    if (/[*?[\]]/.test(path)) {
        return "has a glob: list each path (each one gets its own original and drift)";
    }
    if (!path.startsWith("/sys/")) {
        return "must be an absolute path under /sys/";
    }
    const parts = path.slice(1).split("/");
    if (parts.some((p) => p === "." || p === "..")) {
        return "must be normalised: no . or .. components";
    }
    if (parts.some((p) => !PATH_COMPONENT.test(p))) {
        return "must be normalised (no empty components, no trailing slash), components of letters, digits and _ . : + @ , - only";
    }
    return undefined;
}

/** Why `value` cannot be written (and persisted in a tmpfiles.d line), or undefined. */
export function sysfsValueProblem(value: string | number): string | undefined {
    if (typeof value === "number") {
        if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
            return `${value} is beyond 2^53 - 1, where numbers lose digits: write it as a string`;
        }
        return Number.isInteger(value) ? undefined : `${value} is not an integer; sysfs numbers are integers (write other forms as strings)`;
    }
    if (value.length === 0 || value.length > MAX_VALUE_LENGTH) {
        return `must be 1-${MAX_VALUE_LENGTH} characters (one page with its newline), got ${value.length}`;
    }
    if (!/^[\x20-\x7e]*$/.test(value)) {
        return "must be printable ASCII on one line (no newlines, tabs or control characters)";
    }
    if (value.trim() !== value) {
        return "must not start or end with a space";
    }
    if (value === "-") {
        return 'must not be "-" alone (tmpfiles.d reads it as no value, and would drop the line at boot)';
    }
    if (/["'\\]/.test(value)) {
        return "must not contain quotes or backslashes (tmpfiles.d would unquote them at boot)";
    }
    return undefined;
}

const sysfsValue = z.union([z.number(), z.string()]).superRefine((value, ctx) => {
    const problem = sysfsValueProblem(value);
    if (problem) {
        ctx.addIssue({ code: "custom", message: problem });
    }
});

/** What every sysfs-backed resource takes besides what it sets. */
export const sysfsBaseShape = {
    connection: optionalConnectionSchema,
    /** Write /etc/tmpfiles.d/90-pulumi-<kind>-<name>.conf so the values come back at boot. */
    persist: z.boolean().default(true),
    restoreOnDelete: z.boolean().default(true),
    resourceName: z.string().min(1),
    owner: ownerSchema,
};

export const sysfsSetInputsSchema = z
    .object({
        ...sysfsBaseShape,
        settings: z
            .record(z.string(), sysfsValue)
            .superRefine((settings, ctx) => {
                const paths = Object.keys(settings);
                if (paths.length === 0 || paths.length > MAX_PATHS) {
                    ctx.addIssue({ code: "custom", message: `must set 1-${MAX_PATHS} paths, got ${paths.length}${paths.length > 0 ? ": split them over several SysfsSets" : ""}` });
                }
                const declared = Object.entries(settings).reduce((sum, [path, value]) => sum + path.length + String(value).length, 0);
                if (declared > MAX_DECLARED_CHARACTERS) {
                    ctx.addIssue({ code: "custom", message: `paths and values come to ${declared} characters, above the ${MAX_DECLARED_CHARACTERS} one apply can pass the host: split them over several SysfsSets` });
                }
                for (const path of paths) {
                    const problem = sysfsPathProblem(path);
                    if (problem) {
                        ctx.addIssue({ code: "custom", path: [path], message: `the path ${problem}` });
                    }
                }
            }),
        /** A path the host lacks: "fail" (at preview) or "skip" (reported in `skipped`). */
        onMissing: z.enum(["fail", "skip"]).default("fail"),
    })
    .strict()
    .superRefine(tmpfilesNameFits(SYSFS_TMPFILES_KIND));

export type SysfsSetInputs = z.infer<typeof sysfsSetInputsSchema>;

/** The inputs every sysfs kind shares, as parsed. */
export interface SysfsBaseInputs {
    connection?: Connection;
    persist: boolean;
    restoreOnDelete: boolean;
    resourceName: string;
    /** project/stack/resource, recorded in the host ledger. */
    owner?: string;
}

/** The refinement of a sysfs-backed resource's inputs: its tmpfiles.d file's name is not too long. */
export function tmpfilesNameFits(kind: string) {
    return persistFileNamesFit((resourceName) => [tmpfilesPath(kind, resourceName)]);
}

/** /etc/tmpfiles.d/90-pulumi-<kind>-<name>.conf: `kind` keeps a HostTuning's parts (same name) apart. */
export function tmpfilesPath(kind: string, resourceName: string): string {
    const safe = resourceName.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "");
    return `/etc/tmpfiles.d/90-pulumi-${kind}-${safe || kind}.conf`;
}
