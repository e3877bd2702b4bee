import { z } from "zod";
import { cpuListSchema, isCpuList, parseCpuList } from "../cpus";
import { sysfsBaseShape, tmpfilesNameFits } from "../sysfs/schema";

/** The ledger directory's name: /var/lib/pulumi-linux-tuning/wakeup-latency. */
export const LEDGER_KIND = "wakeup-latency";

/** Names its tmpfiles.d file: /etc/tmpfiles.d/90-pulumi-wakeup-<resource name>.conf. */
export const TMPFILES_KIND = "wakeup";

/** The kernel's "no constraint" value (PM_QOS_RESUME_LATENCY_NO_CONSTRAINT, S32_MAX): refused when written. */
const NO_CONSTRAINT = 2147483647;

/**
 * Microseconds a CPU may take to wake up, or "n/a". drivers/base/power/sysfs.c: writing 0 asks
 * for no constraint at all (the default, read back as "0"), and "n/a" asks for a wake-up latency
 * of 0 (read back as "n/a"): cpuidle governors then pick only the shallowest state (polling).
 */
const latency = z.unknown().superRefine((n, ctx) => {
    let problem: string | undefined;
    if (n === 0) {
        problem = 'is 0, which the kernel reads as "no constraint", not as no latency: write "n/a" for no wake-up latency at all (polling only), or a limit such as 10';
    } else if (n !== "n/a" && !(Number.isInteger(n) && (n as number) >= 1 && (n as number) < NO_CONSTRAINT)) {
        problem = `must be a whole number of microseconds from 1 to ${NO_CONSTRAINT - 1}, or "n/a"`;
    }
    if (problem) {
        ctx.addIssue({ code: "custom", message: problem });
    }
}) as z.ZodType<number | "n/a">;

/**
 * One apply passes every CPU's path and original, and the ledger as one argument, which Linux
 * caps at 128 KiB (over SSH a longer command line travels on stdin). Measured through the
 * planning code, the ledger is the largest argument: ~52 KB for 200 CPUs, ~105 KB for 400,
 * ~134 KB (too long) for 512.
 */
export const MAX_CPUS = 400;

export const cpuWakeupLatencyInputsSchema = z
    .object({
        ...sysfsBaseShape,
        cpus: cpuListSchema.refine((cpus) => !isCpuList(cpus) || parseCpuList(cpus).length <= MAX_CPUS, {
            message: `names more than ${MAX_CPUS} CPUs, more than one apply can pass the host: split them over several CpuWakeupLatency resources`,
        }),
        latencyUs: latency,
    })
    .strict()
    .superRefine(tmpfilesNameFits(TMPFILES_KIND));

export type CpuWakeupLatencyInputs = z.infer<typeof cpuWakeupLatencyInputsSchema>;
