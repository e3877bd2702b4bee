import { Connection } from "./connection";
import { LocalTransport } from "./local";
import { SshTransport } from "./ssh";
import { Transport } from "./transport";

export * from "./argv";
export * from "./connection";
export * from "./transport";
export { closeAllConnections } from "./ssh";

export function transportFor(connection: Connection | undefined): Transport {
    return connection ? new SshTransport(connection) : new LocalTransport(false);
}
