import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { createRootLogger, silentLogger } from "../log.js";
import { generateKeyPair, publicKeyOf } from "../vpn/keys.js";
import { parseSubnet } from "../vpn/subnet.js";
import { PhoneManager, type PeerControl } from "./phones.js";
import { ProvisioningTokens, TOKEN_TTL_MS } from "./tokens.js";
import { startProvisioningServer } from "./http-server.js";
import { phonesPath } from "./phone-store.js";
import type { MergedExtension } from "./merge.js";

class FakePeers implements PeerControl {
  peers = new Map<string, string>();
  async addPeer(k: string, a: string) {
    this.peers.set(k, a);
  }
  async removePeer(k: string) {
    this.peers.delete(k);
  }
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("PhoneManager", () => {
  let dir: string;
  let clock: ManualClock;
  let tokens: ProvisioningTokens;
  let peers: FakePeers;
  let changed: MergedExtension[][];
  let logLines: string[];
  let serving: boolean;
  const server = generateKeyPair();

  const make = () =>
    new PhoneManager({
      stateDir: dir,
      configured: [{ number: "801", password: "yaml-801" }],
      offers: { offer: async (extension, body) => (serving ? tokens.issue(extension, body) : undefined), revoke: (extension) => tokens.revoke(extension) },
      lanHost: "192.168.1.2",
      sipPort: 5060,
      provisionPort: 8580,
      realm: "hikari-gw",
      vpn: { peers, subnet: parseSubnet("10.8.0.0/24"), subnetText: "10.8.0.0/24", gatewayAddress: "10.8.0.1", serverPublicKey: server.publicKey, endpoint: "home.example.net:51820" },
      log: createRootLogger({
        level: "trace",
        destination: new Writable({
          write(c, _e, cb) {
            logLines.push(String(c));
            cb();
          },
        }),
      }),
      onExtensionsChanged: (e) => changed.push(e),
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hikari-phones-"));
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    tokens = new ProvisioningTokens(clock);
    peers = new FakePeers();
    changed = [];
    logLines = [];
    serving = true;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("adds a phone: next free extension, long password, its own peer and a wg-quick config", async () => {
    const m = make();
    const a = await m.add("Pixel");
    expect(a.extension).toBe("802");
    expect(a.sip.password.length).toBeGreaterThanOrEqual(32);
    const cfg = a.wireguard_config!;
    const priv = /PrivateKey = (\S+)/.exec(cfg)![1];
    expect(cfg).toContain("Address = 10.8.0.2/32");
    expect(cfg).toContain(`PublicKey = ${server.publicKey}`);
    expect(cfg).toContain("Endpoint = home.example.net:51820");
    expect(peers.peers.get(publicKeyOf(priv))).toBe("10.8.0.2");
    expect(changed.at(-1)!.map((e) => e.number)).toEqual(["801", "802"]);
    expect(a.provisioning_url).toMatch(/^http:\/\/10\.8\.0\.1:8580\/provision\/[A-Za-z0-9_-]{43}$/);
    expect(a.settings_text).toMatch(/PCMU[^\n]*first/);
    expect(a.settings_text).toMatch(/RFC 2833/);
    // state_dir keeps the phone (owner-only) but never its private key.
    const stored = readFileSync(phonesPath(dir), "utf8");
    expect(statSync(phonesPath(dir)).mode & 0o777).toBe(0o600);
    expect(stored).not.toContain(priv);
    // A second start sees it, and its peer.
    expect(make().peers()).toEqual([{ public_key: publicKeyOf(priv), address: "10.8.0.2" }]);
  });

  it("refuses a taken extension or name, and removes a phone with its peer and URL", async () => {
    const m = make();
    await expect(m.add("X", "801")).rejects.toThrow(/801 exists/);
    const a = await m.add("Tab", "805");
    await expect(m.add("Tab")).rejects.toThrow(/exists/);
    expect(tokens.size).toBe(1);
    await m.remove("Tab");
    expect(peers.peers.size).toBe(0);
    expect(tokens.size).toBe(0);
    expect(changed.at(-1)!.map((e) => e.number)).toEqual(["801"]);
    expect(m.list()).toEqual([]);
    await expect(m.remove("Tab")).rejects.toThrow(/no phone/);
    expect(a.extension).toBe("805");
  });

  it("a phone whose URL cannot be served is still added, with its settings and no URL", async () => {
    serving = false;
    const a = await make().add("Pixel");
    expect(a.extension).toBe("802");
    expect(a.provisioning_url).toBeUndefined();
    expect(a.settings_text).toContain("802");
    expect(changed.at(-1)!.map((e) => e.number)).toEqual(["801", "802"]);
  });

  it("never logs a password, a private key or the provisioning token", async () => {
    const m = make();
    const a = await m.add("Pixel");
    const priv = /PrivateKey = (\S+)/.exec(a.wireguard_config!)![1];
    const token = a.provisioning_url!.split("/").at(-1)!;
    // A careless caller logging the whole answer gets it redacted too.
    createRootLogger({ level: "info", destination: new Writable({ write(c, _e, cb) { logLines.push(String(c)); cb(); } }) }).info({ answer: a }, "x");
    const all = logLines.join("");
    expect(all).toContain("phone added");
    for (const secret of [a.sip.password, priv, token]) expect(all).not.toContain(secret);
  });
});

describe("provisioning HTTP listener", () => {
  it("serves a token once, refuses it the second time, after 24 h, and every other path", async () => {
    const clock = new ManualClock(1_000_000);
    const tokens = new ProvisioningTokens(clock);
    const [srv] = await startProvisioningServer({ addresses: ["127.0.0.1"], port: 0, tokens, log: silentLogger(), clock });
    try {
      const port = (srv.address() as { port: number }).port;
      const t = tokens.issue("802", "<config/>");
      expect(await get(port, `/provision/${t}`)).toEqual({ status: 200, body: "<config/>" });
      expect((await get(port, `/provision/${t}`)).status).toBe(404);
      const late = tokens.issue("803", "<late/>");
      clock.advance(TOKEN_TTL_MS);
      expect((await get(port, `/provision/${late}`)).status).toBe(404);
      expect((await get(port, "/")).status).toBe(404);
      expect((await get(port, "/provision/")).status).toBe(404);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});
