import { execFile } from "child_process";
import { checkArgumentSizes } from "./argv";
import { CommandResult, Transport } from "./transport";

/** The machine running `pulumi`: commands are spawned directly, no shell involved. */
export class LocalTransport implements Transport {
    readonly target = "local";

    constructor(private readonly sudo: boolean) {}

    run(argv: readonly string[], stdin?: string): Promise<CommandResult> {
        const full = this.sudo ? ["sudo", "-n", "--", ...argv] : [...argv];
        return new Promise((resolve, reject) => {
            checkArgumentSizes(this.target, full);
            const child = execFile(full[0], full.slice(1), { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
                if (error && typeof error.code !== "number") {
                    reject(new Error(`local: cannot run ${full[0]}: ${error.message}`));
                    return;
                }
                resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
            });
            child.stdin?.on("error", () => undefined);
            child.stdin?.end(stdin ?? "");
        });
    }
}
