import { z } from "zod";
import { counterNameSchema, otherNicProblem } from "../counters/schema";
import { windowTooLong } from "../counters/rates";
import { interfaceName } from "../nic/schema";
import { optionalConnectionSchema } from "../transport/connection";

/** Variables a shell will not let be set (bash's read-only ones, where /bin/sh is bash). */
const SHELL_READ_ONLY = ["BASHOPTS", "BASH_VERSINFO", "EUID", "PPID", "SHELLOPTS", "UID"];

/** Why a name cannot be one of the check's environment variables, or undefined. */
function envNameProblem(name: string): string | undefined {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) {
        return "must be an environment variable name";
    }
    if (name.startsWith("plt_")) {
        return "plt_* names are the check wrapper's own";
    }
    return SHELL_READ_ONLY.includes(name) ? "is set by the shell and cannot be passed" : undefined;
}

/**
 * A user's health check, run on every host of a wave after it is tuned. Field names follow
 * @pulumi/command's `remote.Command` where they fit (`create`, `environment`, `stdin`).
 */
export const healthCheckSchema = z
    .object({
        /** A shell command line; exit status 0 means healthy. */
        create: z.string().min(1).max(8192).refine((s) => !s.includes("\0"), "must not contain NUL bytes"),
        environment: z
            .record(z.string(), z.string().max(4096).refine((s) => !s.includes("\0"), "must not contain NUL bytes"))
            .superRefine((environment, ctx) => {
                for (const name of Object.keys(environment)) {
                    const problem = envNameProblem(name);
                    if (problem) {
                        ctx.addIssue({ code: "custom", path: [name], message: problem });
                    }
                }
            })
            .optional(),
        stdin: z.string().max(65536).optional(),
        /** Per attempt. Default 30. */
        timeoutSeconds: z.number().positive().max(3600).default(30),
        /** Wait after the wave is applied, before the first attempt. Default 0. */
        settleSeconds: z.number().min(0).max(3600).default(0),
        /** Further attempts after a failure. Default 0. */
        retries: z.number().int().min(0).max(100).default(0),
        /** Wait between attempts. Default 5. */
        retryDelaySeconds: z.number().min(0).max(3600).default(5),
    })
    .strict();

export type HealthCheck = z.infer<typeof healthCheckSchema>;

/** A kernel counter that must not rise faster than a rate over a window after the wave is applied. */
export const counterConditionSchema = z
    .object({
        /** As the sampler names it: "Udp.RcvbufErrors", "TcpExt.ListenOverflows", "softnet.dropped", "link.eth1.rx_dropped". */
        counter: counterNameSchema,
        maxPerSecond: z.number().min(0),
        windowSeconds: z.number().positive().max(3600),
    })
    .strict()
    .superRefine((condition, ctx) => {
        const why = windowTooLong([condition.counter], condition.windowSeconds);
        if (why) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["windowSeconds"], message: why });
        }
    });

/** A count of hosts, or a percentage of the wave ("25%"), as Ansible's max_fail_percentage. */
export const failureBudgetSchema = z.union([
    z.number().int().min(0),
    z.string().regex(/^(100(\.0+)?|[1-9]?[0-9](\.[0-9]+)?)%$/, 'must be a count or a percentage from 0% to 100%, such as "25%"'),
]);

export type FailureBudget = z.infer<typeof failureBudgetSchema>;

const gateHostSchema = z
    .object({
        name: z.string().min(1),
        connection: optionalConnectionSchema,
        /** The host's HostTuning status after its apply. */
        status: z.string(),
        /** The host's HostTuning parts, to verify against a fresh read. */
        parts: z.record(z.string(), z.unknown()),
        /** The host's HostTuning revision: a new one re-runs the gate. */
        revision: z.string().optional(),
        /** The NIC whose counters (drops, per-CPU interrupts) conditions may name. */
        interface: interfaceName.optional(),
    })
    .strict();

export const waveGateInputsSchema = z
    .object({
        wave: z.number().int().min(1),
        hosts: z.array(gateHostSchema),
        maxFailures: failureBudgetSchema.default(0),
        healthCheck: healthCheckSchema.optional(),
        counterConditions: z.array(counterConditionSchema).max(64).optional(),
        /** False when an earlier wave did not pass: this wave was not attempted. */
        admitted: z.boolean().default(true),
    })
    .strict()
    .superRefine((inputs, ctx) => {
        (inputs.counterConditions ?? []).forEach(({ counter }, index) => {
            const hosts = inputs.hosts.filter((h) => otherNicProblem(counter, h.interface, true)).map((h) => `${h.name} (${h.interface ?? "no interface"})`);
            if (hosts.length > 0) {
                const message = `${counter} names a NIC these hosts do not sample: ${hosts.join(", ")}; ${counter.split(".")[0]}.IF.… names each host's own`;
                ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["counterConditions", index, "counter"], message });
            }
        });
    });

export type WaveGateInputs = z.infer<typeof waveGateInputsSchema>;
export type GateHost = z.infer<typeof gateHostSchema>;

/** What the gate found for one host. */
export interface HostVerdict {
    host: string;
    /** "applied", "failed: why" or "not attempted". */
    status: string;
    /** Live values that differ from what was applied, from a fresh read. */
    drifted: string[];
    /** The health check's last attempt, when there is one. */
    check?: { exitCode: number; output: string; attempts: number };
    /** Per-second rates of the conditions' counters, each over its condition's window (`counter over N s` for a counter judged over several). */
    counters?: Record<string, number | null>;
}
