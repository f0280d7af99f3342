import { describe, expect, it } from "vitest";
import { tagOf } from "./index.js";

describe("tagOf: the tag parameter of a From/To value (RFC 3261 §19.3, §20.10)", () => {
  it.each([
    ["<sip:802@198.18.0.12>;tag=abc", "abc"],
    ['"Bob" <sip:802@198.18.0.12>;x=1;TAG = abc;y', "abc"],
    ["sip:802@198.18.0.12;tag=abc", "abc"],
    ["<sip:802@198.18.0.12;tag=in-the-uri>", ""],
    ["<sip:802@198.18.0.12;tag=in-the-uri>;tag=header", "header"],
    ["<sip:802@198.18.0.12>", ""],
    [undefined, ""],
  ])("%s → %j", (value, tag) => {
    expect(tagOf(value)).toBe(tag);
  });
});
