import { earlierHostLedgerPath } from "../host/ledger";
import { LEDGER_KIND as GOVERNOR_KIND } from "../cpu-governor/plan";
import { LEDGER_KIND as IRQS_KIND } from "../irq/plan";
import { LEDGER_KIND as MODULES_KIND } from "../kernel-module/plan";
import { normaliseModuleName } from "../kernel-module/schema";
import { LEDGER_KIND as OFFLOADS_KIND } from "../nic-offload/plan";
import { LEDGER_KIND as NIC_KIND } from "../nic/plan";
import { LEDGER_KIND as STEERING_KIND } from "../packet-steering/plan";
import { LEDGER_KIND as SYSCTLS_KIND } from "../sysctl/ledger";
import { LEDGER_KIND as THP_KIND } from "../thp/schema";
import { LEDGER_KIND as WAKEUP_KIND } from "../wakeup-latency/schema";
import type { Connection } from "../transport/connection";
import { HostTuningInputs, PART_ORDER, PartName, PartRecord, PartRecords } from "./schema";

/** Each part's own resource name: it names the part's files on the host (sysctl.d, udev, systemd). */
export function partResourceName(resourceName: string, part: PartName): string {
    return `${resourceName}-${part}`;
}

/**
 * The inputs a part's handlers expect, as its standalone resource would send them. The IRQ part
 * follows the NIC part: its interface defaults to the NIC's and the NIC's resolved rings and
 * channels are an input, so a ring or channel change re-applies the affinity (drivers
 * reallocate IRQs and lose it). Packet steering follows the NIC the same way (channel changes
 * create and remove queues); the offloads part's interface defaults to the NIC's too. The
 * sysctls part relies on the modules part's modules: its check takes them as loaded.
 */
export function partInputs(inputs: HostTuningInputs, part: PartName, connection: unknown, parts: PartRecords): Record<string, unknown> {
    const spec = { ...inputs[part] };
    if ((part === "irqs" || part === "offloads" || part === "steering") && inputs.nic) {
        spec.interface ??= inputs.nic.interface;
    }
    if ((part === "irqs" || part === "steering") && inputs.nic) {
        // Linked to the NIC part even before it has applied (its check's null): a part applies after it.
        spec.nicState = parts.nic ? parts.nic.state.desired : null;
    }
    if (part === "sysctls" && inputs.modules) {
        spec.modules = [...new Set([...((spec.modules as string[] | undefined) ?? []), ...moduleNames(inputs.modules.modules)])];
    }
    // Each part has its own ledger on the host, owned as project/stack/name/part: with a dash, a
    // part would share its owner, and so its ledger, with a standalone resource named name-part.
    const owner = inputs.owner ? { owner: `${inputs.owner}/${part}` } : {};
    return { ...spec, ...owner, connection, resourceName: partResourceName(inputs.resourceName, part) };
}

/** Each part's ledger directory (its resource's kind). */
const PART_LEDGER_KINDS: Record<PartName, string> = {
    modules: MODULES_KIND,
    sysctls: SYSCTLS_KIND,
    nic: NIC_KIND,
    offloads: OFFLOADS_KIND,
    steering: STEERING_KIND,
    irqs: IRQS_KIND,
    governor: GOVERNOR_KIND,
    thp: THP_KIND,
    wakeup: WAKEUP_KIND,
};

/**
 * A part's old inputs for its check. A host held behind a gate last time was not given them then,
 * so its parts are judged as new, with every host check (owners, missing keys) a create has: the
 * first admitted run must not find a problem only after an earlier part was written. Not when its
 * owner changed meanwhile (a renamed stack): a create's check knows only the new owner's ledger,
 * and would take the host's own for another's. Parts created by earlier versions were owned as
 * `<owner>-<part>`, under the ledger names of then: that ledger is still the part's own (its next
 * update rewrites it under the new owner), not another resource's.
 */
export function partCheckOlds(olds: Record<string, unknown>, part: PartName, owner: unknown): Record<string, unknown> {
    const old = olds[part] as Record<string, unknown> | undefined;
    if (!old || (olds.admitted === false && olds.owner === owner)) {
        return {};
    }
    // Its own ledger either way: named as an earlier version named it, or as this one does, under the owner it had then.
    return typeof olds.owner === "string" ? { ...old, ledgerFile: earlierHostLedgerPath(PART_LEDGER_KINDS[part], `${olds.owner}-${part}`), owner: `${olds.owner}/${part}` } : old;
}

/** The names of a KernelModule's `modules` input, as the kernel writes them. */
function moduleNames(modules: unknown): string[] {
    if (!Array.isArray(modules)) {
        return [];
    }
    return modules.flatMap((m) => {
        const name = typeof m === "string" ? m : (m as { name?: unknown })?.name;
        return typeof name === "string" ? [normaliseModuleName(name)] : [];
    });
}

/** A recorded part as its handlers expect the old state: the connection put back. */
export function withConnection(record: PartRecord, connection: unknown): Record<string, unknown> {
    return { ...record.state, connection };
}

/** State keeps no copy of the connection (and so no key material) per part: the host's one is secret. */
export function recordOf(id: string, outs: Record<string, unknown>): PartRecord {
    const { connection, ...state } = outs;
    void connection;
    return { id, state };
}

/** A part whose interface changed is a different thing to tune: removed, then created. */
export function partRenamed(part: PartName, record: PartRecord, news: Record<string, unknown>): boolean {
    return "interface" in news && record.state.interface !== news.interface;
}

/**
 * Parts to remove before the others apply, in reverse order of application: those no longer
 * declared, and those now declared on another interface (created again there). All before any
 * part applies: the NIC's channels going back renumber its queues and IRQs, so steering and IRQs
 * on the old interface must be put back first, as a delete would.
 */
export function partsToRemove(inputs: HostTuningInputs, parts: PartRecords, newsOf: (part: PartName) => Record<string, unknown>): PartName[] {
    return [...PART_ORDER].reverse().filter((p) => parts[p] && (!inputs[p] || partRenamed(p, parts[p]!, newsOf(p))));
}

/** What the host skipped, across parts: sysctl keys, NIC parameters, an unsupported governor or EPP. */
export function skippedOf(parts: PartRecords): string[] {
    const skipped: string[] = [];
    for (const part of PART_ORDER) {
        const state = parts[part]?.state;
        if (!state) {
            continue;
        }
        for (const item of (state.skipped as string[] | undefined) ?? []) {
            skipped.push(part === "sysctls" ? item : `${part}: ${item}`);
        }
        if (typeof state.unsupported === "string" && state.unsupported) {
            skipped.push(`${part}: ${state.unsupported}`);
        }
        if (typeof state.eppUnsupported === "string" && state.eppUnsupported) {
            skipped.push(`${part}: energyPerformancePreference: ${state.eppUnsupported}`);
        }
    }
    return skipped;
}

export function warningsOf(parts: PartRecords): string[] {
    return PART_ORDER.flatMap((p) => (parts[p]?.state.warnings as string[] | undefined) ?? []);
}

export type { Connection };
