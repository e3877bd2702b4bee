import { FileChanges, FileSnapshot, TransactionOutcome, ValueWrite, applyTransaction, readFiles } from "../host/files";
import { LedgerAction } from "../host/ledger";
import { Transport } from "../transport/transport";
import { SteeringView, readRequests, viewOf } from "./plan";
import { PacketSteeringInputs } from "./schema";

/** One read: the interface's queues and their steering files, the global flow table, CPUs, NUMA node, our udev rule, every ledger. */
export async function readSteering(transport: Transport, inputs: PacketSteeringInputs, rulePath: string): Promise<{ snapshot: FileSnapshot; view: SteeringView }> {
    const snapshot = await readFiles(transport, readRequests(inputs, rulePath));
    return { snapshot, view: viewOf(inputs, snapshot) };
}

/** "/sys/class/net/eth1/queues/rx-0/rps_cpus" → "eth1 rx-0/rps_cpus", a sysctl by its key, for the kernel's refusals. */
export function describeSteeringPath(path: string): string {
    const queue = /^\/sys\/class\/net\/([^/]+)\/queues\/(.+)$/.exec(path);
    if (queue) {
        return `${queue[1]} ${queue[2]}`;
    }
    return path.startsWith("/proc/sys/") ? path.slice("/proc/sys/".length).replace(/\//g, ".") : path;
}

/**
 * One write: the ledger first (on delete, removed last), values in order, each file's old content
 * kept, then the rule; a value the kernel refuses rolls back everything written before it and
 * fails naming the file and the errno text.
 */
export function applySteering(transport: Transport, writes: readonly ValueWrite[], files: FileChanges, ledger?: LedgerAction): Promise<TransactionOutcome> {
    return applyTransaction(transport, writes, files, { describe: describeSteeringPath, ledger });
}
