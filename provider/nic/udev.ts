import { FileData, holdsText } from "../host/files";
import { ManagedFiles, fileOf, samePathContent } from "../host/restore";

/**
 * The lines of a rule that applies `assignments` (each an ATTR, SYSCTL or RUN, with its own
 * values) when the interface appears: each assignment once under each of two matches. At the
 * add event of an interface udev renames (predictable names: eth0 → enp3s0f0), KERNEL is still
 * the kernel's name; 80-net-setup-link.rules, which sorts before our 90-* files, sets NAME to
 * the name the interface gets (or keeps), so NAME is what matches the declared name. Where
 * nothing sets NAME (no 80-net-setup-link.rules), KERNEL is the name, and NAME=="" keeps that
 * line off an interface whose kernel name is about to go to another one.
 */
export function netAddLines(iface: string, assignments: readonly string[]): string[] {
    const matches = [`ACTION=="add", SUBSYSTEM=="net", NAME=="${iface}"`, `ACTION=="add", SUBSYSTEM=="net", KERNEL=="${iface}", NAME==""`];
    return assignments.flatMap((assignment) => matches.map((match) => `${match}, ${assignment}`));
}

/**
 * How a resource's own rule stands: "in place" (what it would write now), "missing", "outdated"
 * (what it last wrote, but no longer what it would write: a rule an earlier version rendered, or
 * one for queues the interface no longer has; the next up rewrites it) or "edited" (changed
 * since it was written).
 */
export function ruleStatus(record: { ruleFile?: string; managedFiles?: ManagedFiles }, fileAt: (path: string) => FileData | null | undefined, expected: string): string {
    if (record.ruleFile === undefined) {
        return "not persisted";
    }
    const live = fileAt(record.ruleFile);
    if (!live) {
        return "missing";
    }
    if (holdsText(live, expected)) {
        return "in place";
    }
    return samePathContent(fileOf(live), record.managedFiles?.written[record.ruleFile]) ? "outdated" : "edited";
}
