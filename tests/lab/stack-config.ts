// Writes a ready Pulumi.<stack>.yaml for the default fleet program from a lab's lab.json:
// every host with its address and pinned host key, the lab's key file, and the
// high-connection-rate profile (its keys are per network namespace, so they apply in the lab).
//   npm run lab -- config <lab dir or lab.json> [stack]
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import type { Lab } from "../integration/lab";
import type { FleetConfigInput } from "../../components/fleet/inventory";

export function labFleetConfig(lab: Lab): FleetConfigInput {
    return {
        defaults: { user: "root", privateKeyPath: lab.privateKeyPath, perDialTimeout: 5, dialErrorLimit: 1 },
        hosts: lab.hosts.map((h) => ({
            name: h.name,
            connection: { host: h.address, port: h.port, hostKey: h.hostKey },
            labels: { hardware: h.hardware },
            facts: { interface: "eth1" },
        })),
        assignments: [{ select: {}, profile: "high-connection-rate", facts: { connectionsPerSecond: 20000 } }],
        rollout: { serial: [1, "25%", "100%"], maxFailures: 0, healthCheck: { create: "sysctl -n net.core.somaxconn", timeoutSeconds: 10 } },
    };
}

/** Stack config YAML: JSON values are YAML too. */
export function stackConfigYaml(config: FleetConfigInput): string {
    const lines = ["config:"];
    for (const [key, value] of Object.entries(config)) {
        lines.push(`  pulumi-linux-tuning:${key}: ${JSON.stringify(value)}`);
    }
    return lines.join("\n") + "\n";
}

if (require.main === module) {
    const [labPath, stack = "lab"] = process.argv.slice(2);
    const file = labPath.endsWith(".json") ? labPath : path.join(labPath, "lab.json");
    const lab: Lab = JSON.parse(readFileSync(file, "utf8"));
    const out = path.resolve(__dirname, "../..", `Pulumi.${stack}.yaml`);
    writeFileSync(out, stackConfigYaml(labFleetConfig(lab)));
    console.log(out);
}
