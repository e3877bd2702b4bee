import * as pulumi from "@pulumi/pulumi";
import { Fleet, FleetArgs } from "./fleet";
import { CONFIG_NAMESPACE, FLEET_KEY_CONFIG, FleetConfigError, SHARD_OF_KEY, fleetConfigJson, refuseUnknownConfigKeys } from "./inventory";

/**
 * The default program (Pulumi.yaml's main): the fleet from stack config, so a user runs this
 * project as it is with only a `Pulumi.<stack>.yaml`:
 *
 *   pulumi-linux-tuning:defaults      connection fields every host shares (user, privateKeyPath, knownHostsPath, sudo, proxy, …)
 *   pulumi-linux-tuning:hosts         [{ name, connection: { host, hostKey }, labels, facts, sysctlOverrides, overrides }]
 *   pulumi-linux-tuning:assignments   [{ select: { role: sip }, profile: sip-router, facts, sysctlOverrides } | { select, sysctls: {…} }]
 *   pulumi-linux-tuning:rollout       { serial: [1, "25%", "100%"] | waves: [{ select }], maxFailures, healthCheck }
 *   pulumi-linux-tuning:evidence      { windowSeconds } (default 3) or false: each host's profile counters before and after
 *   pulumi-linux-tuning:sshPrivateKey (secret) the key, when no privateKeyPath is given
 *   pulumi-linux-tuning:sshPrivateKeyPassword (secret) the passphrase of that key, or of the privateKeyPath keys
 */
export function fleetProgram(options: Pick<FleetArgs, "haltFailsRun"> = {}): Record<string, pulumi.Output<unknown>> {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const shardOf = config.get(SHARD_OF_KEY);
    // Not config.getObject: its error on text that is not JSON quotes the text, a secret's too.
    const objectConfig = <T>(key: string): T | undefined => {
        const text = config.get(key);
        return text === undefined ? undefined : (fleetConfigJson(key, text) as T);
    };
    try {
        refuseUnknownConfigKeys(Object.keys(pulumi.runtime.allConfig()));
        const fleet = new Fleet("fleet", {
            defaults: objectConfig<FleetArgs["defaults"]>("defaults"),
            hosts: objectConfig("hosts") as never,
            assignments: objectConfig("assignments") as never,
            rollout: objectConfig<FleetArgs["rollout"]>("rollout"),
            evidence: objectConfig<FleetArgs["evidence"]>("evidence"),
            privateKey: config.getSecret(FLEET_KEY_CONFIG.privateKey),
            privateKeyPassword: config.getSecret(FLEET_KEY_CONFIG.privateKeyPassword),
            ...options,
        });
        return { hosts: fleet.hostRecords, waves: fleet.waveSummaries, ...(options.haltFailsRun === false ? { halted: fleet.halted } : {}) };
    } catch (e) {
        // A shard's config is written by `shard` (an older one held every assignment and wave).
        throw shardOf && e instanceof FleetConfigError
            ? new FleetConfigError(
                  `${e.message}\nThis stack is a shard of ${shardOf}: \`pulumi-linux-tuning shard --stack ${shardOf} --by LABEL\` writes its config again from the fleet's (and, when it no longer lists this stack, it is to be destroyed).`,
              )
            : e;
    }
}
