// A web/API fleet's connection-handling sysctls on every host listed in config.
//
//   pulumi config set --path 'hosts[0].host' 10.0.0.5
//   pulumi config set --path 'hosts[0].hostKey' "$(ssh-keyscan -t ed25519 10.0.0.5 | cut -d' ' -f2-)"
//   pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519
//   pulumi up
import * as pulumi from "@pulumi/pulumi";
import { SysctlSet } from "pulumi-linux-tuning";

interface HostConfig {
    host: string;
    hostKey: string;
    port?: number;
    user?: string;
}

const config = new pulumi.Config();
const hosts = config.requireObject<HostConfig[]>("hosts");
const privateKey = config.requireSecret("sshPrivateKey");

const tuned = hosts.map(
    (h, i) =>
        new SysctlSet(`api-${i + 1}`, {
            connection: { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey },
            settings: {
                // Accept queue: the effective backlog is min(listen() backlog, somaxconn).
                "net.core.somaxconn": { atLeast: 8192 },
                "net.ipv4.tcp_max_syn_backlog": { atLeast: 8192 },
                "net.ipv4.ip_local_port_range": [10240, 65535],
                "net.ipv4.tcp_fin_timeout": 15,
                "net.ipv4.tcp_rmem": [4096, 131072, 16777216],
            },
        }),
);

export const settings = tuned.map((t) => t.settings);
export const originals = tuned.map((t) => t.originals);
export const warnings = tuned.map((t) => t.warnings);
