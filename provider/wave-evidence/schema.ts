import { z } from "zod";
import { windowTooLong } from "../counters/rates";
import { counterEvidenceInputsSchema } from "../counters/schema";

const { connection, interface: iface, counters, windowSeconds } = counterEvidenceInputsSchema.shape;

const waveHostSchema = z.object({ name: z.string().min(1), connection, interface: iface, counters }).strict();

export const waveEvidenceInputsSchema = z
    .object({
        wave: z.number().int().min(1),
        hosts: z.array(waveHostSchema),
        windowSeconds,
        /** False while an earlier wave's gate holds this one: no host is contacted. */
        admitted: z.boolean().default(true),
    })
    .strict()
    .superRefine((inputs, ctx) => {
        const why = windowTooLong([...new Set(inputs.hosts.flatMap((h) => h.counters))], inputs.windowSeconds);
        if (why) {
            ctx.addIssue({ code: "custom", path: ["windowSeconds"], message: why });
        }
    });

export type WaveEvidenceInputs = z.infer<typeof waveEvidenceInputsSchema>;
export type WaveEvidenceHost = z.infer<typeof waveHostSchema>;
