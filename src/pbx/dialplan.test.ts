import { describe, expect, it } from "vitest";
import { Dialplan, normalizeDialled } from "./dialplan.js";

const rules = [
  { match: "^80[1-9]$", to: "extension" },
  { match: "^0[0-9]+$", to: "trunk" },
  { match: "^15900941215$", to: "801" },
  { match: "^8", to: "trunk" }, // shadowed for 801..809 by the first rule
];

describe("Dialplan", () => {
  const dp = new Dialplan(rules);

  it("names the rule that routed a number, as the config says it (for the refusal log)", () => {
    expect(dp.route("0312345678")).toEqual({ kind: "trunk", number: "0312345678", allow: { international: false, premium: false }, rule: "dialplan[1] ^0[0-9]+$ → trunk" });
    expect(dp.route("15900941215")).toEqual({ kind: "user", number: "801", rule: "dialplan[2] ^15900941215$ → 801" });
    expect(dp.route("899")).toEqual({ kind: "trunk", number: "899", allow: { international: false, premium: false }, rule: "dialplan[3] ^8 → trunk" });
    expect(dp.route("x")).toEqual({ kind: "none" });
  });

  it("routes by the first matching rule", () => {
    expect(dp.route("802")).toMatchObject({ kind: "extension", number: "802" });
    expect(dp.route("0312345678")).toMatchObject({ kind: "trunk", number: "0312345678", allow: { international: false, premium: false } });
    expect(dp.route("15900941215")).toMatchObject({ kind: "user", number: "801" });
    expect(dp.route("800")).toMatchObject({ kind: "trunk", number: "800", allow: { international: false, premium: false } });
    expect(dp.route("117")).toMatchObject({ kind: "none" });
    expect(dp.route("")).toMatchObject({ kind: "none" });
  });

  it("strips visual separators and maps +81 to national format", () => {
    expect(dp.route("03-1234-5678")).toMatchObject({ kind: "trunk", number: "0312345678", allow: { international: false, premium: false } });
    expect(dp.route("(03) 1234 5678")).toMatchObject({ kind: "trunk", number: "0312345678", allow: { international: false, premium: false } });
    expect(dp.route("+81 3-1234-5678")).toMatchObject({ kind: "trunk", number: "0312345678", allow: { international: false, premium: false } });
    expect(dp.route("80 2")).toMatchObject({ kind: "extension", number: "802" });
  });

  it("leaves non-numbers alone", () => {
    expect(normalizeDialled("front.door")).toBe("front.door");
    expect(normalizeDialled("+1 555 0100")).toBe("+15550100");
    expect(normalizeDialled("*67#")).toBe("*67#");
    expect(new Dialplan([{ match: "^front\\.door$", to: "801" }]).route("front.door")).toMatchObject({ kind: "user", number: "801" });
  });

  it("can match the raw string when normalisation is off", () => {
    const raw = new Dialplan(rules, { normalize: false });
    expect(raw.route("03-1234-5678")).toMatchObject({ kind: "none" });
    expect(raw.route("0312345678")).toMatchObject({ kind: "trunk", number: "0312345678", allow: { international: false, premium: false } });
  });

  it("is not fooled by regex state between calls", () => {
    const g = new Dialplan([{ match: "^0", to: "trunk" }]);
    for (let i = 0; i < 5; i++) expect(g.route("0312").kind).toBe("trunk");
  });

  it("refuses bad rules with their index", () => {
    expect(() => new Dialplan([{ match: "(", to: "trunk" }])).toThrow(/dialplan\[0\]\.match/);
    expect(() => new Dialplan([rules[0]!, { match: "^1$", to: "voicemail" }])).toThrow(/dialplan\[1\]\.to/);
  });
});
