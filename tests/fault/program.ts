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
 * land between any two of them.
 */
export function faultProgram(lab: Lab): PulumiFn {
    return async () => {
        for (const host of lab.hosts) {
            const connection = connectionTo(lab, host);
            new SysctlSet(`faults-${host.name}`, { connection, settings: FAULT_SETTINGS });
            if (host.hardware === "server") {
                const nic = new NicRingConfig(`faults-nic-${host.name}`, { connection, interface: "eth1", rings: { rx: "max", tx: 2048 }, coalesce: { adaptiveRx: false, rxUsecs: 8 } });
                new IrqAffinity(`faults-irqs-${host.name}`, { connection, interface: "eth1", spread: "1-3" }, { dependsOn: nic });
                new CpuGovernor(`faults-governor-${host.name}`, { connection, governor: "performance", energyPerformancePreference: "performance" });
            }
        }
    };
}
