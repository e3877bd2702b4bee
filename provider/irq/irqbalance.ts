/**
 * irqbalance rewrites IRQ affinity every 10 s unless told not to. Before any affinity write we
 * either ban our IRQs (`--banirq`, kept in IRQBALANCE_ARGS of its environment file, as tuned's
 * irqbalance plugin keeps its banned CPUs there) or stop it; delete puts it back as it was.
 */

export const CONFIG_FILES = ["/etc/default/irqbalance", "/etc/sysconfig/irqbalance"];

export interface IrqbalanceState {
    running: boolean;
    pids: number[];
    /** argv of the running daemon. */
    cmdline: string[];
    /** Managed by a running systemd. */
    systemd: boolean;
    configFile: string;
    configContent: string | null;
}

const ARGS_LINE = /^(\s*IRQBALANCE_ARGS\s*=\s*)(["']?)(.*?)\2\s*$/m;

function currentArgs(content: string): string[] {
    const match = ARGS_LINE.exec(content);
    return match ? match[3].split(/\s+/).filter(Boolean) : [];
}

/** The environment file with `--banirq=N` for each IRQ added to IRQBALANCE_ARGS. */
export function withBannedIrqs(content: string | null, irqs: number[]): string {
    const text = content ?? "";
    const args = currentArgs(text);
    const wanted = [...args, ...irqs.map((irq) => `--banirq=${irq}`).filter((a) => !args.includes(a))];
    const line = `IRQBALANCE_ARGS="${wanted.join(" ")}"`;
    if (ARGS_LINE.test(text)) {
        return text.replace(ARGS_LINE, line);
    }
    return (text && !text.endsWith("\n") ? text + "\n" : text) + line + "\n";
}

/** The environment file with exactly our `--banirq=N` flags taken out again. */
export function withoutBannedIrqs(content: string, irqs: number[]): string {
    const ours = new Set(irqs.map((irq) => `--banirq=${irq}`));
    const match = ARGS_LINE.exec(content);
    if (!match) {
        return content;
    }
    const args = currentArgs(content).filter((a) => !ours.has(a));
    return content.replace(ARGS_LINE, `${match[1]}"${args.join(" ")}"`);
}

export function banArgs(irqs: number[]): string[] {
    return irqs.map((irq) => `--banirq=${irq}`);
}
