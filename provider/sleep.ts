/** Waits `seconds` (a window between counter samples, a settle or retry delay). */
export const sleep = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));
