import { NicRingConfig } from "../../../provider";
import * as handlers from "../../../provider/nic/handlers";
import { Lab, LabHost, connectionTo, onHost } from "../lab";
import type { LedgerCase } from "./case";

/**
 * Everything NicRingConfig or NicOffloads can change on a lab host's eth1: rings, channels,
 * coalescing and features as ethtool shows them, the queue length, every IRQ's affinity (kept
 * across a ring change), and /etc/udev with each file's content.
 */
export const nicHostState = (lab: Lab, host: LabHost): string =>
    onHost(lab, host, [
        "sh",
        "-c",
        `for o in -g -l -c -k; do ethtool "$o" eth1 2>&1; done
cat /sys/class/net/eth1/tx_queue_len
grep -H . /proc/irq/[0-9]*/smp_affinity_list 2>/dev/null
find /etc/udev -print0 2>/dev/null | sort -z | xargs -0 -r ls -ld --time-style=+ | awk '{print $1, $NF}'
find /etc/udev -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum`,
    ]);

export const nicRingConfigCase: LedgerCase = {
    name: "NicRingConfig",
    kind: "nic",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        interface: "eth1",
        rings: variant === "a" ? { rx: 2048, tx: 1024 } : { rx: 512, tx: 512 },
        channels: { rx: variant === "a" ? "max" : 1 },
        coalesce: variant === "a" ? { adaptiveRx: false, rxUsecs: 10 } : { adaptiveRx: true, rxUsecs: 20 },
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), interface: "eth1", rings: { rx: 2048, tx: 1024 } }),
    declare: (name, args) => new NicRingConfig(name, args as never),
    create: handlers.create,
    hostState: nicHostState,
};
