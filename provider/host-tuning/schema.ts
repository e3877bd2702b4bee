import { z } from "zod";
import { cpuGovernorInputsSchema } from "../cpu-governor/schema";
import { irqAffinityInputsSchema } from "../irq/schema";
import { kernelModuleInputsSchema } from "../kernel-module/schema";
import { nicOffloadsInputsSchema } from "../nic-offload/schema";
import { nicRingConfigInputsSchema } from "../nic/schema";
import { packetSteeringInputsSchema } from "../packet-steering/schema";
import { sysctlSetInputsSchema } from "../sysctl/schema";
import { transparentHugepagesInputsSchema } from "../thp/schema";
import { optionalConnectionSchema } from "../transport/connection";
import { cpuWakeupLatencyInputsSchema } from "../wakeup-latency/schema";

/** The parts of a host's tuning, in the order they are applied (and removed in reverse). */
export const PART_ORDER = ["modules", "sysctls", "nic", "offloads", "steering", "irqs", "governor", "thp", "wakeup"] as const;
export type PartName = (typeof PART_ORDER)[number];

/** Each part's grammar: the standalone resource's inputs schema. */
export const PART_SCHEMAS: Record<PartName, z.ZodType> = {
    modules: kernelModuleInputsSchema,
    sysctls: sysctlSetInputsSchema,
    steering: packetSteeringInputsSchema,
    nic: nicRingConfigInputsSchema,
    offloads: nicOffloadsInputsSchema,
    irqs: irqAffinityInputsSchema,
    governor: cpuGovernorInputsSchema,
    thp: transparentHugepagesInputsSchema,
    wakeup: cpuWakeupLatencyInputsSchema,
};

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
        /** Set by check on a gated host: what this host cannot take (a ring above its NIC's maximum, a key another stack owns). */
        hostProblems: z.array(z.string()).optional(),
        /** In a fleet: the counter rates its wave's evidence measured, the latest; the first apply keeps them as `baseline`. */
        waveBaseline: z.object({ before: z.record(z.string(), z.number().nullable()), unmeasured: z.string().optional() }).strict().optional(),
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

/** The counter rates from before a host's first apply (see keptBaseline), or why there are none. */
export type HostBaseline = NonNullable<HostTuningInputs["waveBaseline"]>;

/** One part as recorded in state: the standalone resource's id and outputs, less the connection. */
export interface PartRecord {
    id: string;
    state: Record<string, unknown>;
}

export type PartRecords = Partial<Record<PartName, PartRecord>>;

export const APPLIED = "applied";
export const NOT_ATTEMPTED = "not attempted";
