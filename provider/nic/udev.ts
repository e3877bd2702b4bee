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
