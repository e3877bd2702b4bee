import { strict as assert } from "assert";

/** Captures everything the engine printed, for assertions on what a user would read. */
export function collect(): { onOutput: (s: string) => void; text: () => string } {
    const chunks: string[] = [];
    return { onOutput: (s) => chunks.push(s), text: () => chunks.join("") };
}

/** The error message of an operation that must fail. */
export async function expectFailure(run: Promise<unknown>): Promise<string> {
    try {
        await run;
    } catch (e) {
        return String((e as Error).message ?? e);
    }
    assert.fail("the operation was expected to fail");
}

/** A preview summary with nothing to do. */
export function assertNoChanges(summary: Record<string, number | undefined>): void {
    assert.deepEqual(Object.keys(summary).sort(), ["same"], JSON.stringify(summary));
}
