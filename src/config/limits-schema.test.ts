import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load.js";
import { configProblems as problems } from "../../test/support/config/problems.js";

describe("config: limits", () => {
  it("has defaults sized for a 1 GB Pi when the block is absent", () => {
    const cfg = parseConfigText("wan: { interface: eth1 }\n");
    expect(cfg.limits).toEqual({ server_transactions: 50_000, dialogs: 50_000, retry_after_s: 5, tracked_nonces: 65_536, lockout_entries: 10_000, contacts_per_aor: 10 });
  });

  it("takes each key, and a bad value or an unknown key names the YAML key", () => {
    const cfg = parseConfigText("wan: { interface: eth1 }\nlimits: { dialogs: 500, server_transactions: 2000, retry_after_s: 30, contacts_per_aor: 3 }\n");
    expect(cfg.limits).toMatchObject({ dialogs: 500, server_transactions: 2000, retry_after_s: 30, contacts_per_aor: 3 });
    const p = problems("wan: { interface: eth1 }\nlimits: { dialogs: 5, retry_after_s: 0, calls: 3 }\n");
    expect(p.some((x) => x.startsWith("limits.dialogs:"))).toBe(true);
    expect(p.some((x) => x.startsWith("limits.retry_after_s:"))).toBe(true);
    expect(p.some((x) => x.includes("limits") && x.includes("calls"))).toBe(true);
  });
});
