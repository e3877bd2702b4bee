import { createHash, createHmac } from "crypto";

export interface HostKeyEntry {
    keyType: string;
    /** The key blob, base64 as written in known_hosts. */
    key: string;
}

/** "ssh-ed25519 AAAA... comment" -> its type and blob. */
export function parsePublicKey(line: string): HostKeyEntry {
    const [keyType, key] = line.trim().split(/\s+/);
    if (!keyType || !key) {
        throw new Error(`not a public key: "${line}"`);
    }
    return { keyType, key };
}

export function fingerprint(blob: Buffer): string {
    return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The name known_hosts uses for a host, lowercased as ssh does: "host" on port 22, "[host]:port" otherwise. */
export function knownHostsName(host: string, port: number): string {
    const name = host.toLowerCase();
    return port === 22 ? name : `[${name}]:${port}`;
}

/** Host key algorithms ssh2 can negotiate, by the key type known_hosts names (an RSA key signs with SHA-2 first). */
const ALGORITHMS_OF: Record<string, string[]> = {
    "ssh-ed25519": ["ssh-ed25519"],
    "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
    "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
    "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
    "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * The host key algorithms to offer: those of the keys we trust, as OpenSSH puts the types it
 * knows for a host first. Without it the server shows its first key of ssh2's own order
 * (Ed25519), and a host known by its RSA or ECDSA key would be refused as a mismatch.
 */
export function hostKeyAlgorithms(trusted: readonly HostKeyEntry[]): string[] {
    return [...new Set(trusted.flatMap((entry) => ALGORITHMS_OF[entry.keyType] ?? []))];
}

function globMatches(pattern: string, name: string): boolean {
    const regex = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${regex}$`, "i").test(name);
}

function hashedMatches(pattern: string, name: string): boolean {
    const [, magic, salt, hash] = pattern.split("|");
    if (magic !== "1" || !salt || !hash) {
        return false;
    }
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return digest === hash;
}

function patternListMatches(patterns: string, name: string): boolean {
    let matched = false;
    for (const pattern of patterns.split(",")) {
        if (pattern.startsWith("|")) {
            matched ||= hashedMatches(pattern, name);
        } else if (pattern.startsWith("!")) {
            if (globMatches(pattern.slice(1), name)) {
                return false;
            }
        } else {
            matched ||= globMatches(pattern, name);
        }
    }
    return matched;
}

export interface KnownHostsLookup {
    accepted: HostKeyEntry[];
    revoked: HostKeyEntry[];
}

/** The keys a known_hosts file lists for `name` (certificate-authority lines are not used). */
export function lookUpKnownHosts(content: string, name: string): KnownHostsLookup {
    const result: KnownHostsLookup = { accepted: [], revoked: [] };
    for (const raw of content.split("\n")) {
        const line = raw.trim();
        if (!line || line.startsWith("#")) {
            continue;
        }
        const fields = line.split(/\s+/);
        const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
        const [patterns, keyType, key] = fields;
        // OpenSSH ignores a line whose marker it does not know: a mistyped @revoked must not grant trust.
        if (!patterns || !keyType || !key || (marker !== undefined && marker !== "@revoked")) {
            continue;
        }
        if (patternListMatches(patterns, name)) {
            (marker === "@revoked" ? result.revoked : result.accepted).push({ keyType, key });
        }
    }
    return result;
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: string };

/** Decides whether the key a server presented may be trusted; `trusted` undefined: any key not revoked (insecureSkipHostKeyCheck). */
export function verifyHostKey(presented: Buffer, trusted: HostKeyEntry[] | undefined, revoked: HostKeyEntry[], target: string): HostKeyVerdict {
    const presentedB64 = presented.toString("base64");
    const seen = fingerprint(presented);
    if (revoked.some((k) => k.key === presentedB64)) {
        return { ok: false, reason: `${target}: host key ${seen} is marked @revoked in known_hosts` };
    }
    if (trusted === undefined || trusted.some((k) => k.key === presentedB64)) {
        return { ok: true };
    }
    if (trusted.length === 0) {
        return {
            ok: false,
            reason:
                `${target}: unknown host key ${seen}. Pin it with connection.hostKey, add it to the ` +
                `known_hosts file (connection.knownHostsPath), or set insecureSkipHostKeyCheck: true for a throwaway host`,
        };
    }
    const expected = trusted.map((k) => fingerprint(Buffer.from(k.key, "base64"))).join(", ");
    return {
        ok: false,
        reason: `${target}: HOST KEY MISMATCH: the server presented ${seen}, expected ${expected}. Refusing to connect (possible man-in-the-middle, or the host was reinstalled)`,
    };
}
