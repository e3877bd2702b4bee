import { CpuHost, parseCpuList } from "./cpus";
import { FileSnapshot } from "./host/files";

/**
 * The NUMA node a NIC sits on, and that node's CPUs, as the kernel reports them. A PCI NIC has
 * its own numa_node; a virtio NIC's device (virtioN) has none: its PCI function, one level up,
 * holds it.
 */

const ownNode = (netDir: string) => `${netDir}/device/numa_node`;
const parentNode = (netDir: string) => `${netDir}/device/../numa_node`;
const NODE_CPULISTS = "/sys/devices/system/node/node[0-9]*/cpulist";
const nodeCpuList = (node: number) => `/sys/devices/system/node/node${node}/cpulist`;

/** What nicNuma needs read, for the interface whose /sys/class/net directory is `netDir`. */
export const nicNumaRequests = (netDir: string): string[] => [ownNode(netDir), parentNode(netDir), NODE_CPULISTS];

/** The node and its CPUs; neither when the device reports none (-1, or no numa_node at all). */
export function nicNuma(snapshot: FileSnapshot, netDir: string): Pick<CpuHost, "numaNode" | "numaCpus"> {
    const text = (snapshot.files.get(ownNode(netDir)) ?? snapshot.files.get(parentNode(netDir)))?.trim();
    if (text === undefined || !/^\d+$/.test(text)) {
        return {};
    }
    const numaNode = Number(text);
    const cpus = snapshot.files.get(nodeCpuList(numaNode));
    return cpus === undefined ? { numaNode } : { numaNode, numaCpus: parseCpuList(cpus) };
}
