import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { maskSecrets, parseConfigText } from "./load.js";
import { configProblems as problems } from "../../test/support/config/problems.js";

describe("config", () => {
  it("fills defaults from an almost empty file", () => {
    const cfg = parseConfigText("wan: { interface: eth1 }\n");
    expect(cfg.wan.interface).toBe("eth1");
    expect(cfg.trunk.register_expires).toBe(3600);
    expect(cfg.lan.port).toBe(5060);
    expect(cfg.media.rtp_ports).toBe("50000-59999");
    // The kernel path where the host allows it; the relay falls back by itself (one log line).
    expect(cfg.media.offload).toBe("auto");
    expect(cfg.mqtt.base_topic).toBe("hikari-gw");
    expect(cfg.wan.dhcp.enterprise).toBe(210);
    expect(cfg.dialplan[0]).toEqual({ match: "^80[1-9]$", to: "extension" });
  });

  it("accepts the bundled default config", () => {
    const text = readFileSync(new URL("../../config/default.yaml", import.meta.url), "utf8");
    const cfg = parseConfigText(text);
    expect(cfg.trunk.enabled).toBe(false);
    expect(cfg.extensions.map((e) => e.number)).toEqual(["801", "802"]);
  });

  it("reports every error with its YAML path in one run", () => {
    const p = problems(`
extensions:
  - { number: "801", password: "long-enough" }
  - { number: "802" }
  - { number: "80x", password: "abcdef" }
lan: { port: 70000 }
trunk: { register_expires: "soon" }
bogus: 1
dialplan:
  - { match: "([", to: extension }
  - { match: "^9$", to: "999" }
`);
    expect(p).toContain("extensions[1].password: required");
    expect(p.some((s) => s.startsWith("extensions[2].number: expected digits"))).toBe(true);
    expect(p.some((s) => s.startsWith("lan.port:"))).toBe(true);
    expect(p).toContain("trunk.register_expires: expected number, got string");
    expect(p).toContain("(top level): unknown key(s): bogus");
    expect(p).toContain("dialplan[0].match: not a valid regular expression");
    expect(p.some((s) => s.startsWith('dialplan[1].to: expected "extension", "trunk" or a configured extension number'))).toBe(true);
  });

  it("says what is wrong in words (zod/mini alone would say only \"Invalid input\")", () => {
    const p = problems("lan: { port: 70000 }\ntrunk: { refresh_ratio: 0.1 }\npbx: { ring_timeout_s: 1.5 }\nmedia: { offload: fast }\n");
    expect(p).toEqual([
      "trunk.refresh_ratio: Too small: expected number to be >=0.2",
      "lan.port: Too big: expected number to be <=65535",
      "pbx.ring_timeout_s: expected int, got number",
      'media.offload: Invalid option: expected one of "auto"|"none"|"nftables"',
    ]);
  });

  it("names semantic errors: duplicates and unknown ring targets", () => {
    const p = problems(`
extensions:
  - { number: "801", password: "abcdef" }
  - { number: "801", password: "abcdef" }
inbound: { ring: ["805"] }
mqtt: { dial_extension: "806" }
`);
    expect(p).toContain("extensions[1].number: duplicate extension 801");
    expect(p).toContain('inbound.ring[0]: no extension "805"');
    expect(p).toContain('mqtt.dial_extension: no extension "806"');
  });

  it("reports YAML syntax errors with a line", () => {
    const p = problems("wan: [\n  bad");
    expect(p.length).toBeGreaterThan(0);
    expect(p[0]).toMatch(/^line \d+:/);
  });

  it("masks secrets", () => {
    const cfg = parseConfigText(`extensions: [{ number: "801", password: "topsecret" }]\ntrunk: { password: "x1234" }`);
    const s = JSON.stringify(maskSecrets(cfg));
    expect(s).not.toContain("topsecret");
    expect(s).not.toContain("x1234");
    expect(cfg.extensions[0].password).toBe("topsecret");
  });
});

describe("shipped configs", () => {
  it("deploy/config.example.yaml is valid and names the line's port", () => {
    const text = readFileSync(new URL("../../deploy/config.example.yaml", import.meta.url), "utf8");
    const cfg = parseConfigText(text, "config.example.yaml");
    expect(cfg.wan.interface).toBe("eth0");
    expect(cfg.trunk.enabled).toBe(true);
    expect(cfg.extensions).toHaveLength(2);
  });
});
