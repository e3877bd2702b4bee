import type { PulumiFn } from "@pulumi/pulumi/automation";
import { SysctlSet } from "../../provider";
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

export function faultProgram(lab: Lab): PulumiFn {
    return async () => {
        for (const host of lab.hosts) {
            new SysctlSet(`faults-${host.name}`, { connection: connectionTo(lab, host), settings: FAULT_SETTINGS });
        }
    };
}
