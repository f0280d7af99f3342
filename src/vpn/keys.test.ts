import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateKeyPair, isWireguardKey, loadOrCreateServerKey, publicKeyOf } from "./keys.js";
import { gatewayAddress, nextFreeAddress, parseSubnet } from "./subnet.js";
import { parseHandshakes } from "./wireguard.js";

describe("WireGuard keys", () => {
  it("makes 32-byte base64 pairs whose public half derives from the private one", () => {
    const a = generateKeyPair();
    expect(isWireguardKey(a.privateKey)).toBe(true);
    expect(isWireguardKey(a.publicKey)).toBe(true);
    expect(publicKeyOf(a.privateKey)).toBe(a.publicKey);
    expect(generateKeyPair().privateKey).not.toBe(a.privateKey);
  });

  it("derives the RFC 7748 §6.1 test vector's public key", () => {
    // Alice's key pair from RFC 7748 §6.1.
    const priv = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex").toString("base64");
    const pub = Buffer.from("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "hex").toString("base64");
    expect(publicKeyOf(priv)).toBe(pub);
  });

  it("keeps the server key in state_dir with mode 0600, the same across starts", () => {
    const dir = mkdtempSync(join(tmpdir(), "hikari-wgkey-"));
    try {
      const first = loadOrCreateServerKey(dir);
      expect(statSync(first.path).mode & 0o777).toBe(0o600);
      expect(loadOrCreateServerKey(dir).publicKey).toBe(first.publicKey);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tunnel subnet", () => {
  it("gives the gateway the first host and phones the next free ones", () => {
    const s = parseSubnet("10.8.0.77/24");
    expect(gatewayAddress(s)).toBe("10.8.0.1");
    expect(nextFreeAddress(s, ["10.8.0.1"])).toBe("10.8.0.2");
    expect(nextFreeAddress(s, ["10.8.0.1", "10.8.0.2", "10.8.0.4"])).toBe("10.8.0.3");
  });
  it("says when the subnet is full", () => {
    const s = parseSubnet("10.8.0.0/30");
    expect(() => nextFreeAddress(s, ["10.8.0.2"])).toThrow(/full/);
  });
});

describe("wg show latest-handshakes", () => {
  it("parses epoch seconds, 0 meaning never", () => {
    expect(parseHandshakes("AAA=\t1700000000\nBBB=\t0\n")).toEqual([
      { public_key: "AAA=", last_handshake: "2023-11-14T22:13:20.000Z" },
      { public_key: "BBB=", last_handshake: null },
    ]);
  });
});
