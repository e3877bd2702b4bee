/**
 * ethtool's text output for rings (-g), channels (-l) and coalescing (-c), parsed into plain
 * numbers, and the mapping from our parameter names to ethtool's words.
 */

export type Section = "rings" | "channels" | "coalesce";

export const SECTION_OPTIONS: Record<Section, { show: string; set: string }> = {
    rings: { show: "-g", set: "-G" },
    channels: { show: "-l", set: "-L" },
    coalesce: { show: "-c", set: "-C" },
};

/** parameter → [label in ethtool's output, word on ethtool's command line] */
export const RING_PARAMS = { rx: ["RX", "rx"], rxMini: ["RX Mini", "rx-mini"], rxJumbo: ["RX Jumbo", "rx-jumbo"], tx: ["TX", "tx"] } as const;
export const CHANNEL_PARAMS = { combined: ["Combined", "combined"], rx: ["RX", "rx"], tx: ["TX", "tx"], other: ["Other", "other"] } as const;
export const COALESCE_PARAMS = {
    adaptiveRx: ["Adaptive RX", "adaptive-rx"],
    adaptiveTx: ["Adaptive TX", "adaptive-tx"],
    rxUsecs: ["rx-usecs", "rx-usecs"],
    txUsecs: ["tx-usecs", "tx-usecs"],
    rxFrames: ["rx-frames", "rx-frames"],
    txFrames: ["tx-frames", "tx-frames"],
} as const;

export const PARAMS: Record<Section, Record<string, readonly [string, string]>> = { rings: RING_PARAMS, channels: CHANNEL_PARAMS, coalesce: COALESCE_PARAMS };

/** Values by parameter name; absent = the driver reports n/a. Booleans are 1/0. */
export type Values = Record<string, number>;

export interface MaxAndCurrent {
    max: Values;
    current: Values;
}

function labelled(lines: string[], params: Record<string, readonly [string, string]>): Values {
    const values: Values = {};
    for (const line of lines) {
        const match = /^([A-Za-z -]+):\s*(\S+)\s*$/.exec(line.trim());
        if (!match) {
            continue;
        }
        for (const [name, [label]] of Object.entries(params)) {
            if (label === match[1] && /^\d+$/.test(match[2])) {
                values[name] = Number(match[2]);
            }
        }
    }
    return values;
}

/** `ethtool -g` and `ethtool -l`: a "Pre-set maximums:" block, then "Current hardware settings:". */
export function parseMaxAndCurrent(text: string, params: Record<string, readonly [string, string]>): MaxAndCurrent {
    const lines = text.split("\n");
    const currentAt = lines.findIndex((l) => /^Current hardware settings:/.test(l.trim()));
    const maxAt = lines.findIndex((l) => /^Pre-set maximums:/.test(l.trim()));
    if (currentAt < 0 || maxAt < 0) {
        throw new Error(`unexpected ethtool output: ${text.trim().split("\n")[0] ?? "(empty)"}`);
    }
    return { max: labelled(lines.slice(maxAt + 1, currentAt), params), current: labelled(lines.slice(currentAt + 1), params) };
}

/** `ethtool -c`: "Adaptive RX: on  TX: off" and "rx-usecs: 50" lines. */
export function parseCoalesce(text: string): Values {
    const values: Values = {};
    const adaptive = /Adaptive RX:\s*(on|off|n\/a)\s+TX:\s*(on|off|n\/a)/.exec(text);
    if (adaptive) {
        if (adaptive[1] !== "n/a") {
            values.adaptiveRx = adaptive[1] === "on" ? 1 : 0;
        }
        if (adaptive[2] !== "n/a") {
            values.adaptiveTx = adaptive[2] === "on" ? 1 : 0;
        }
    }
    for (const [name, [label]] of Object.entries(COALESCE_PARAMS)) {
        const match = new RegExp(`^${label}:\\s*(\\d+)\\s*$`, "m").exec(text);
        if (match && !name.startsWith("adaptive")) {
            values[name] = Number(match[1]);
        }
    }
    return values;
}

/** Command-line words for `ethtool -G/-L/-C IF ...`. */
export function setWords(section: Section, values: Values): string[] {
    return Object.entries(values).flatMap(([name, value]) => {
        const word = PARAMS[section][name][1];
        return section === "coalesce" && name.startsWith("adaptive") ? [word, value ? "on" : "off"] : [word, String(value)];
    });
}
