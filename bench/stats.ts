/** Median (the mean of the middle two for an even count), min and max: every bench reports runs this way. */
export interface Spread {
    median: number;
    min: number;
    max: number;
}

export function spread(xs: number[]): Spread {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}
