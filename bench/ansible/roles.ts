import * as path from "path";

/**
 * What a controller process is there for, from its command line: the operation's own Node.js
 * process (the program with the Automation API, or the drift report), the Pulumi CLI running the
 * engine, its dynamic providers, other `pulumi` commands (the Automation API's stack outputs and
 * history, the report's config and export), Ansible's Python, ssh clients.
 */
export function processRole(argv: readonly string[]): string {
    const base = path.basename(argv[0] ?? "");
    if (argv.some((a) => a.includes("dynamic-provider") || a.includes("pulumi-resource-pulumi-nodejs"))) return "provider";
    if (base === "pulumi") return ["up", "preview", "refresh", "destroy"].includes(argv[1]) ? "engine" : "pulumi commands";
    if (base === "ssh") return "ssh";
    if (argv.some((a) => path.basename(a).startsWith("ansible"))) return "ansible";
    if (base === "node") return "node";
    return "other";
}
