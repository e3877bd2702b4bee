import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

/** Runs `body` in a fresh directory under the system's temporary one, removed afterwards whatever happens. */
export function inTempDir<T>(prefix: string, body: (dir: string) => T): T {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    try {
        return body(dir);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}
