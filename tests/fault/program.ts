import type { PulumiFn } from "@pulumi/pulumi/automation";
import { CpuGovernor, IrqAffinity, NicRingConfig, SysctlSet } from "../../provider";
import { Lab, connectionTo } from "../integration/lab";

/** Per-namespace keys the fault suite tunes on every lab host, and checks back byte for byte. */
export const FAULT_SETTINGS: Record<string, number | number[]> = {
    "net.core.somaxconn": 8192,
    "net.ipv4.tcp_fin_timeout": 17,
    "net.ipv4.tcp_keepalive_time": 333,
    "net.ipv4.tcp_max_syn_backlog": 7777,
    "net.ipv4.tcp_rmem": [4096, 131072, 7340032],
    "net.ipv4.ip_local_port_range": [20000, 60000],
};

/**
 * On every (emulated server) host: the sysctls, the NIC's rings and coalescing, its queue IRQs
 * and the CPU governor, each with its persistence in /etc — what a profile changes, so a kill can
 * land between any two of them. "partial" touches part of it, without persistence: an update from
 * it to "full" adds items, files and directories, so a kill can land inside an update too.
 */
export function faultProgram(lab: Lab, variant: FaultVariant = "full", commandTimeout?: number): PulumiFn {
    const full = variant === "full";
    return async () => {
        for (const host of lab.hosts) {
            const connection = connectionTo(lab, host, commandTimeout ? { commandTimeout } : {});
            const settings = full ? FAULT_SETTINGS : Object.fromEntries(Object.entries(FAULT_SETTINGS).slice(0, 3));
            new SysctlSet(`faults-${host.name}`, { connection, settings, persist: full });
            if (host.hardware === "server") {
                const coalesce = full ? { coalesce: { adaptiveRx: false, rxUsecs: 8 } } : {};
                const nic = new NicRingConfig(`faults-nic-${host.name}`, { connection, interface: "eth1", rings: { rx: "max", tx: 2048 }, ...coalesce, persist: full });
                new IrqAffinity(`faults-irqs-${host.name}`, { connection, interface: "eth1", spread: "1-3", persist: full }, { dependsOn: nic });
                const governor = full ? { energyPerformancePreference: "performance" } : { cpus: "1" };
                new CpuGovernor(`faults-governor-${host.name}`, { connection, governor: "performance", ...governor, persist: full });
            }
        }
    };
}

export type FaultVariant = "full" | "partial";
