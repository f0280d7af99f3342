/**
 * The QR codes `phone add` prints decode to exactly the text printed beside them: rendered
 * to PNG with the same library and settings, read back with zbarimg (Debian zbar-tools).
 * No namespace needed; it sits in the lab because it needs a Debian tool.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { qrPng } from "../../src/provision/qr.js";
import { wireguardConfig } from "../../src/provision/settings.js";
import { generateKeyPair } from "../../src/vpn/keys.js";

const ready = labReady("vpn QR lab", ["zbarimg"]);

describe.skipIf(!ready)("QR codes decode to exactly the printed text (zbarimg)", () => {
  it("the WireGuard config and the provisioning URL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hgw-qr-"));
    try {
      const config = wireguardConfig({ privateKey: generateKeyPair().privateKey, address: "10.8.0.2", serverPublicKey: generateKeyPair().publicKey, endpoint: "home.example.net:51820", allowedIps: "10.8.0.0/24" });
      const url = "http://10.8.0.1:8580/provision/z9ksFPdoylT_tVmlO93GVsk2YL9v6N4VQZymVmbkQ8E";
      for (const [i, text] of [config, url].entries()) {
        const png = join(dir, `${i}.png`);
        await qrPng(text, png);
        const decoded = execFileSync("zbarimg", ["--quiet", "--raw", "-Sbinary", png], { encoding: "utf8" });
        expect(decoded.replace(/\n$/, "")).toBe(text.replace(/\n$/, ""));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
