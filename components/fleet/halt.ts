/** An error diagnostic of an engine run: on a resource (its URN), or on the run itself. */
export interface EngineError {
    urn?: string;
    message: string;
}

const isHalt = (error: EngineError) => error.urn !== undefined && /:RolloutVerdict::/.test(error.urn) && /rollout halted: wave \d+/.test(error.message);

/** The engine's own closing error, with no URN, of any run in which a resource failed. */
const isRunFailed = (error: EngineError) => error.urn === undefined && /^update failed\s*$/.test(error.message);

/**
 * Whether a failed run failed only because a wave halted: then its report is in the outputs and
 * the halt is the whole story. Any other error (another resource's, the program's), with a halt or
 * without, makes the run an error.
 */
export function haltedAlone(errors: readonly EngineError[]): boolean {
    return errors.some(isHalt) && errors.every((e) => isHalt(e) || isRunFailed(e));
}
