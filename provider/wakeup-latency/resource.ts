import * as pulumi from "@pulumi/pulumi";
import { SysfsBaseArgs, SysfsResource } from "../sysfs/resource";

export interface CpuWakeupLatencyArgs extends SysfsBaseArgs {
    /** CPU list such as "2-5" (IrqAffinity's grammar): the application cores. Every one must be online. */
    cpus: pulumi.Input<string>;
    /**
     * The longest wake-up (idle exit) latency the CPUs may have, in microseconds: cpuidle skips
     * deeper C-states. "n/a": none at all, polling only. 0 is refused: the kernel reads it as
     * "no constraint".
     */
    latencyUs: pulumi.Input<number | "n/a">;
}

/**
 * Per-CPU resume latency PM QoS (power/pm_qos_resume_latency_us): keeps application cores out of
 * deep C-states without a process holding /dev/cpu_dma_latency open.
 */
export class CpuWakeupLatency extends SysfsResource {
    constructor(name: string, args: CpuWakeupLatencyArgs, opts?: pulumi.CustomResourceOptions) {
        super("wakeup-latency/handlers", "CpuWakeupLatency", name, args, opts);
    }
}
