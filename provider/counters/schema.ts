import { z } from "zod";
import { interfaceName } from "../nic/schema";
import { isGauge } from "./parse";
import { windowTooLong } from "./rates";
import { optionalConnectionSchema } from "../transport/connection";
import { UNKNOWN } from "../unknowns";

/** A counter as the sampler names it; a level (Tcp.CurrEstab, sockstat) has no rate and is refused. */
export const counterNameSchema = z
    .string()
    .regex(/^[A-Za-z0-9_.@-]{1,128}$/, 'must be a counter name such as "Udp.RcvbufErrors"')
    .refine((c) => !isGauge(c), "is a level, not a counter: a rate over a window does not apply to it");

/**
 * Why a counter of one NIC (`link.eth1.rx_dropped`, `nic.…`, `irq.…`) cannot be sampled on a host
 * whose NIC is `iface`: the sampler reads that one NIC only, so another's never appears. `IF`
 * stands for the host's own, where a gate's conditions allow it.
 */
export function otherNicProblem(counter: string, iface: string | undefined, placeholder = false): string | undefined {
    const [family, nic] = counter.split(".");
    // An interface not known until apply (another resource's output) is judged then.
    if (!["link", "nic", "irq"].includes(family) || nic === undefined || (placeholder && nic === "IF") || iface === UNKNOWN || (iface !== undefined && counter.startsWith(`${family}.${iface}.`))) {
        return undefined;
    }
    const own = placeholder ? ` (${family}.IF.… names each host's own)` : "";
    return iface === undefined ? `names a NIC, and no interface is given to sample${own}` : `names a NIC other than ${iface}, the one sampled${own}`;
}

export const counterEvidenceInputsSchema = z
    .object({
        connection: optionalConnectionSchema,
        /** The NIC whose drops and interrupts count. */
        interface: interfaceName.optional(),
        /** Counters to report before vs now, as the sampler names them ("TcpExt.ListenOverflows"). */
        counters: z.array(counterNameSchema).min(1).max(64),
        /** Rates are measured over this window at apply (before tuning) and at each refresh. Default 3. */
        windowSeconds: z.number().positive().max(600).default(3),
        resourceName: z.string().min(1),
        /** Given by a fleet's WaveEvidence: false while the host is held behind an earlier wave's gate (not contacted; the baseline waits for its admission), and a failed measurement is recorded rather than thrown. */
        admitted: z.boolean().default(true),
    })
    .strict()
    .superRefine((inputs, ctx) => {
        const why = windowTooLong(inputs.counters, inputs.windowSeconds);
        if (why) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["windowSeconds"], message: why });
        }
        inputs.counters.forEach((counter, index) => {
            const elsewhere = otherNicProblem(counter, inputs.interface);
            if (elsewhere) {
                ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["counters", index], message: `${counter} ${elsewhere}` });
            }
        });
    });

export type CounterEvidenceInputs = z.infer<typeof counterEvidenceInputsSchema>;

/** Per-second rate of each watched counter over a window; null where the host lacks it or it reset. */
export type Rates = Record<string, number | null>;
