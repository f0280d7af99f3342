import { describe, expect, it } from "vitest";
import { configSchema } from "./schema.js";
import { configWarnings } from "./warnings.js";
import { semanticProblems } from "./semantic.js";

const cfg = (extensions: { number: string; password: string }[]) => configSchema().parse({ extensions });

describe("configuration warnings and security defaults (issue 13)", () => {
  it("warns about weak extension passwords: short, digits only, containing the number", () => {
    const w = configWarnings(cfg([
      { number: "801", password: "a-long-enough-secret" },
      { number: "802", password: "x802" },
      { number: "803", password: "12345678901234" },
      { number: "804", password: "short-pw" },
    ]));
    expect(w.map((x) => `${x.path}: ${x.message}`)).toEqual([
      "extensions[1].password: weak: contains the extension number 802",
      "extensions[1].password: weak: shorter than 12 characters",
      "extensions[2].password: weak: digits only",
      "extensions[3].password: weak: shorter than 12 characters",
    ]);
  });

  it("defaults refuse transfers, international and premium numbers, and bound calls", () => {
    const p = configSchema().parse({}).pbx;
    expect(p).toMatchObject({ allow_transfer: false, allow_international: false, max_calls_per_extension: 4, max_calls: 16, max_call_s: 14400 });
    expect(p.premium_prefixes).toEqual(["0570", "0180", "0990", "0170"]);
  });

  it("lan.allow takes networks and names the key when one is not", () => {
    expect(configSchema().parse({ lan: { allow: ["10.8.0.0/24", "192.168.1.20"] } }).lan.allow).toEqual(["10.8.0.0/24", "192.168.1.20"]);
    const r = configSchema().safeParse({ lan: { allow: ["10.8.0.0/40"] } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(["lan", "allow", 0]);
  });

  it("a LAN listener on the trunk's own address and port is a clear error", () => {
    const p = semanticProblems({ lan: { listen: "198.18.4.2" }, trunk: { local_address: "198.18.4.2" } });
    expect(p).toEqual([{ path: "lan.listen", message: expect.stringContaining("is also the trunk's") }]);
    expect(semanticProblems({ lan: { listen: "198.18.4.2", port: 5070 }, trunk: { local_address: "198.18.4.2" } })).toEqual([]);
  });
});
