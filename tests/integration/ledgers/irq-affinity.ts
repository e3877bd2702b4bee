import { IrqAffinity } from "../../../provider";
import * as handlers from "../../../provider/irq/handlers";
import { connectionTo, onHost } from "../lab";
import type { LedgerCase } from "./case";

/** Every IRQ's affinity, whether irqbalance runs, and /etc/default and /etc/systemd: entries and each file's hash. */
const IRQ_STATE = String.raw`
grep -H . /proc/irq/[0-9]*/smp_affinity_list 2>/dev/null
pidof -x irqbalance >/dev/null && echo "irqbalance running" || echo "irqbalance not running"
find /etc/default /etc/systemd -printf '%y %m %U:%G %p %l\n' 2>/dev/null | sort
find /etc/default /etc/systemd -type f -exec sha256sum {} + 2>/dev/null | sort -k 2
`;

export const irqAffinityCase: LedgerCase = {
    name: "IrqAffinity",
    kind: "irq",
    hardware: "server",
    args: (lab, host, variant) => ({
        connection: connectionTo(lab, host),
        interface: "eth1",
        ...(variant === "a" ? { spread: "1-3" } : { cpus: "2-3" }),
        irqbalance: "ban",
    }),
    fewer: (lab, host) => ({ connection: connectionTo(lab, host), interface: "eth1", spread: "1-3", irqbalance: "ban", persist: false }),
    declare: (name, args) => new IrqAffinity(name, args as never),
    create: handlers.create,
    hostState: (lab, host) => onHost(lab, host, ["sh", "-c", IRQ_STATE]),
};
