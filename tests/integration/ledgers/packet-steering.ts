import { PacketSteering } from "../../../provider";
import * as handlers from "../../../provider/packet-steering/handlers";
import { connectionTo, onHost } from "../lab";
import type { LedgerCase } from "./case";

/** Every queue's steering files, the global flow table (absent in a netns), and /etc/udev/rules.d: entries and hashes. */
const STEERING_STATE = String.raw`
cd /sys/class/net/eth1/queues && grep -H . rx-*/rps_cpus rx-*/rps_flow_cnt tx-*/xps_cpus
cat /proc/sys/net/core/rps_sock_flow_entries 2>&1
find /etc/udev/rules.d -printf '%y %m %U:%G %p\n' 2>/dev/null | sort
find /etc/udev/rules.d -type f -exec sha256sum {} + 2>/dev/null | sort -k 2
`;

export const packetSteeringCase: LedgerCase = {
    name: "PacketSteering",
    kind: "packet-steering",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        interface: "eth1",
        rps: { cpus: variant === "a" ? "1-2" : "2-3" },
        rfs: { flowEntries: variant === "a" ? 32768 : 16384 },
        xps: { spread: variant === "a" ? "0-3" : "1-3" },
        onMissing: "skip",
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), interface: "eth1", rps: { cpus: "1-2" }, onMissing: "skip" }),
    declare: (name, args) => new PacketSteering(name, args as never),
    create: handlers.create,
    hostState: (lab, host) => onHost(lab, host, ["sh", "-c", STEERING_STATE]),
};
