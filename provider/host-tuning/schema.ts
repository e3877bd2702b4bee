import { z } from "zod";
import { optionalConnectionSchema } from "../transport/connection";

/** The parts of a host's tuning, in the order they are applied (and removed in reverse). */
export const PART_ORDER = ["modules", "sysctls", "nic", "offloads", "steering", "irqs", "governor", "thp", "wakeup"] as const;
export type PartName = (typeof PART_ORDER)[number];

/**
 * A part holds the inputs of the standalone resource (KernelModule, SysctlSet, NicRingConfig,
 * NicOffloads, PacketSteering, IrqAffinity, CpuGovernor, TransparentHugepages, CpuWakeupLatency)
 * without `connection`; each part is validated by that resource's own check.
 */
const partSpec = z.record(z.string(), z.unknown());

export const hostTuningInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        resourceName: z.string().min(1).max(200),
        /** project/stack/resource: each part's owner in the host's ledgers is this with `/<part>` appended. */
        owner: z.string().min(1).max(1024).optional(),
        /** False while the wave this host belongs to is held by an earlier wave's gate. */
        admitted: z.boolean().default(true),
        sysctls: partSpec.optional(),
        nic: partSpec.optional(),
        irqs: partSpec.optional(),
        governor: partSpec.optional(),
        modules: partSpec.optional(),
        offloads: partSpec.optional(),
        steering: partSpec.optional(),
        thp: partSpec.optional(),
        wakeup: partSpec.optional(),
    })
    .strict();

export type HostTuningInputs = z.infer<typeof hostTuningInputsSchema>;

/** One part as recorded in state: the standalone resource's id and outputs, less the connection. */
export interface PartRecord {
    id: string;
    state: Record<string, unknown>;
}

export type PartRecords = Partial<Record<PartName, PartRecord>>;

export const APPLIED = "applied";
export const NOT_ATTEMPTED = "not attempted";
