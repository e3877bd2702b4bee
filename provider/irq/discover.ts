/**
 * Finding an interface's queue IRQs the way mlnx_tune and Intel's set_irq_affinity do: the
 * MSI vectors under /sys/class/net/IF/device/msi_irqs/, else /proc/interrupts names.
 */

export interface InterruptLine {
    irq: number;
    name: string;
}

/** Numbered lines of /proc/interrupts with their action name (the last field). */
export function parseInterrupts(text: string): InterruptLine[] {
    const lines = text.split("\n");
    const cpuCount = (lines[0] ?? "").trim().split(/\s+/).filter((c) => /^CPU\d+$/.test(c)).length;
    const result: InterruptLine[] = [];
    for (const line of lines.slice(1)) {
        const match = /^\s*(\d+):\s+(.*)$/.exec(line);
        if (!match) {
            continue;
        }
        const fields = match[2].trim().split(/\s+/);
        const rest = fields.slice(cpuCount);
        // After the per-CPU counts: chip name, hwirq/trigger, then the action name(s); arm64
        // prints the trigger as a word of its own ("ITS-MSI 524288 Edge eth0-TxRx-0").
        // Two fields are "CHIP HWIRQ-trigger" of a vector no action holds yet (an interface that
        // is down: no name to pin by), or an old kernel's "CHIP-trigger NAME".
        const unnamed = rest.length < 3 && /^\d+-[a-z]+$/i.test(rest[rest.length - 1] ?? "");
        const actions = rest.length >= 3 ? rest.slice(/^(Edge|Level)$/.test(rest[2]) ? 3 : 2) : unnamed ? [] : rest.slice(-1);
        const name = actions.join(" ");
        result.push({ irq: Number(match[1]), name: name.replace(/,$/, "") });
    }
    return result;
}

function escape(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Names drivers give per-queue vectors of `iface` (or of its device, e.g. virtio0). `ownVector`:
 * the vector is known to be the device's (listed in its msi_irqs), so a bare `mlx5_compN`, which
 * every port of an mlx5 card may print, is its own; read from /proc/interrupts alone, only one
 * naming the device (`mlx5_compN@pci:<device>`) is.
 */
export function isQueueIrqName(name: string, iface: string, device: string | undefined, ownVector = false): boolean {
    const i = escape(iface);
    const patterns = [
        new RegExp(`^${i}[-_](TxRx|Tx-Rx|rx|tx|combined|fp|q|queue)[-_]?\\d+$`, "i"),
        new RegExp(`^${i}-\\d+$`),
        new RegExp(`^[a-z0-9]+-${i}-TxRx-\\d+$`, "i"),
    ];
    // mlx5 and virtio name vectors after the device, not the interface: without it they are another NIC's.
    if (device) {
        patterns.push(new RegExp(`^mlx5_comp\\d+(@pci:${escape(device)})${ownVector ? "?" : ""}$`), new RegExp(`^${escape(device)}-(input|output)\\.\\d+$`));
    }
    return patterns.some((p) => p.test(name));
}

/**
 * A queue IRQ that only completes transmits ("eth0-tx-0", virtio's "virtio1-output.0"): spreading
 * it spreads no receive work. Combined ones ("TxRx", mlx5_comp, "eth0-0") carry both.
 */
export function isTransmitOnlyIrqName(name: string): boolean {
    return /(^|[-_.])(tx|output)[-_.]?\d+$/i.test(name);
}

const NOT_A_QUEUE = /(config|async|ctrl|misc|mbox|err|event|mgmn?t|admin)/i;

export interface Discovery {
    irqs: InterruptLine[];
    source: "msi_irqs" | "/proc/interrupts";
}

export function discoverQueueIrqs(iface: string, msiIrqs: number[] | undefined, interrupts: InterruptLine[], device: string | undefined): Discovery {
    if (msiIrqs && msiIrqs.length > 0) {
        const byIrq = new Map(interrupts.map((l) => [l.irq, l]));
        const vectors = msiIrqs.map((irq) => byIrq.get(irq) ?? { irq, name: "" });
        const queues = vectors.filter((v) => isQueueIrqName(v.name, iface, device, true));
        const chosen = queues.length > 0 ? queues : vectors.filter((v) => !NOT_A_QUEUE.test(v.name));
        return { irqs: chosen.sort((a, b) => a.irq - b.irq), source: "msi_irqs" };
    }
    return {
        irqs: interrupts.filter((l) => isQueueIrqName(l.name, iface, device)).sort((a, b) => a.irq - b.irq),
        source: "/proc/interrupts",
    };
}
