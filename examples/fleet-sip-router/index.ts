// A fleet of SIP routers (Kamailio/OpenSIPS hosts) tuned with the sip-router profile, in waves:
// one canary, then a quarter of the fleet, then the rest. After each wave a gate re-reads every
// host, runs the health check below on each, and holds the later waves if too many failed.
import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "pulumi-linux-tuning";

const config = new pulumi.Config();
const sipPorts = config.get("sipPorts") ?? "5060-5061";

/**
 * Healthy when the SIP port cannot be handed out as an ephemeral (outgoing) port: it is outside
 * ip_local_port_range or inside ip_local_reserved_ports. The port arrives as $SIP_PORT, never
 * pasted into the command line.
 */
const SIP_PORT_IS_SAFE = `
set -- $(sysctl -n net.ipv4.ip_local_port_range)
reserved=$(sysctl -n net.ipv4.ip_local_reserved_ports)
if [ "$SIP_PORT" -lt "$1" ] || [ "$SIP_PORT" -gt "$2" ]; then echo "$SIP_PORT is outside the ephemeral range $1-$2"; exit 0; fi
for r in $(echo "$reserved" | tr , ' '); do
  if [ "$SIP_PORT" -ge "\${r%-*}" ] && [ "$SIP_PORT" -le "\${r#*-}" ]; then echo "$SIP_PORT is reserved ($reserved)"; exit 0; fi
done
echo "$SIP_PORT is in the ephemeral range $1-$2 and not reserved"; exit 1`;

const fleet = new Fleet("sip", {
    // The inventory as Fleet takes it, so a config error names its path (hosts[2].connection.host).
    hosts: config.requireObject("hosts"),
    // A host whose command hangs (a stuck driver) fails after 2 minutes instead of holding its wave open.
    defaults: { commandTimeout: 120 },
    assignments: [
        {
            select: {},
            profile: "sip-router",
            // Fleet-wide facts; a host's own facts (memoryGiB of a bigger box, its interface) win.
            facts: { memoryGiB: config.getNumber("memoryGiB") ?? 64, sipPorts },
        },
    ],
    rollout: {
        serial: [1, "25%", "100%"],
        // Ansible's max_fail_percentage: a wave halts the rollout when more than 25% of it fails
        // (so the one-host canary must pass).
        maxFailures: "25%",
        healthCheck: { create: SIP_PORT_IS_SAFE, environment: { SIP_PORT: sipPorts.split(/[-,]/)[0] }, timeoutSeconds: 10, retries: 1, retryDelaySeconds: 2 },
    },
    privateKey: config.requireSecret("sshPrivateKey"),
    privateKeyPassword: config.getSecret("sshPrivateKeyPassword"),
});

/** The waves as planned (known at preview). */
export const waves = fleet.waves.map((w) => w.hosts.map((h) => h.name));
/** Per host: wave, status ("applied", "failed: why", "not attempted"), drift, skipped keys, health check output. */
export const hostRecords = fleet.hostRecords;
/** Per wave: its hosts, passed or halted, failures against the budget. */
export const waveSummaries = fleet.waveSummaries;
