/**
 * WireGuard keys: Curve25519 pairs as `wg genkey`/`wg pubkey` print them (32 bytes, base64),
 * made with node:crypto so no key ever passes through a command line or a child's stdout.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

const b64 = (b64url: string) => Buffer.from(b64url, "base64url").toString("base64");

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const d = privateKey.export({ format: "jwk" }).d!;
  const x = publicKey.export({ format: "jwk" }).x!;
  return { privateKey: b64(d), publicKey: b64(x) };
}

/** A WireGuard key is 32 bytes in base64 (44 characters ending in "="). */
export function isWireguardKey(s: string): boolean {
  return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(s);
}

export const serverKeyPath = (stateDir: string) => join(stateDir, "wireguard.key");

/**
 * The server's key pair, made on first start and kept in state_dir with mode 0600 (the
 * private key file is what `wg set … private-key FILE` reads).
 */
export function loadOrCreateServerKey(stateDir: string): KeyPair & { path: string } {
  mkdirSync(stateDir, { recursive: true });
  const path = serverKeyPath(stateDir);
  if (existsSync(path)) {
    chmodSync(path, 0o600);
    const privateKey = readFileSync(path, "utf8").trim();
    if (!isWireguardKey(privateKey)) throw new Error(`${path}: not a WireGuard private key`);
    return { privateKey, publicKey: publicKeyOf(privateKey), path };
  }
  const pair = generateKeyPair();
  writeFileSync(path, pair.privateKey + "\n", { mode: 0o600 });
  return { ...pair, path };
}

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410 §7); the 32 raw bytes follow. */
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The public key of a base64 private key. */
export function publicKeyOf(privateKey: string): string {
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, Buffer.from(privateKey, "base64")]), format: "der", type: "pkcs8" });
  return b64(createPublicKey(key).export({ format: "jwk" }).x!);
}
