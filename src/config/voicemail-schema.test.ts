import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load.js";
import { configProblems as problems } from "../../test/support/config/problems.js";
import { configWarnings } from "./warnings.js";

describe("config: voicemail", () => {
  it("is off by default, with defaults for every key", () => {
    const cfg = parseConfigText("wan: { interface: eth1 }\n");
    expect(cfg.voicemail).toEqual({ enabled: false, answer_after_s: 20, max_message_s: 120, silence_s: 10, beep: true, max_messages: 100, max_age_days: 90, max_mb: 200 });
  });

  it("takes each key", () => {
    const cfg = parseConfigText(
      'wan: { interface: eth1 }\nvoicemail: { enabled: true, answer_after_s: 2, greeting: /etc/g.wav, max_message_s: 60, silence_s: 0, beep: false, numbers: ["0312345678"], max_messages: 5, max_age_days: 0, max_mb: 1.5, base_url: "http://192.168.1.2:8580" }\n',
    );
    expect(cfg.voicemail).toEqual({ enabled: true, answer_after_s: 2, greeting: "/etc/g.wav", max_message_s: 60, silence_s: 0, beep: false, numbers: ["0312345678"], max_messages: 5, max_age_days: 0, max_mb: 1.5, base_url: "http://192.168.1.2:8580" });
  });

  it("names the YAML key of a bad value or an unknown key", () => {
    const p = problems('wan: { interface: eth1 }\nvoicemail: { answer_after_s: -1, max_message_s: 2, numbers: ["03-1234"], beep: "yes", base_url: "ftp://x", record: true }\n');
    for (const key of ["answer_after_s", "max_message_s", "numbers[0]", "beep", "base_url"]) expect(p.some((x) => x.startsWith(`voicemail.${key}:`)), key).toBe(true);
    expect(p.some((x) => x.includes("voicemail") && x.includes("record"))).toBe(true);
  });

  it("warns when it would answer only after the call stopped ringing (pbx.ring_timeout_s)", () => {
    const warn = (yaml: string) => configWarnings(parseConfigText(`wan: { interface: eth1 }\n${yaml}`)).filter((w) => w.path === "voicemail.answer_after_s");
    expect(warn("voicemail: { enabled: true, answer_after_s: 50 }\npbx: { ring_timeout_s: 45 }\n")).toHaveLength(1);
    expect(warn("voicemail: { enabled: true, answer_after_s: 20 }\npbx: { ring_timeout_s: 45 }\n")).toEqual([]);
    expect(warn("voicemail: { enabled: false, answer_after_s: 50 }\npbx: { ring_timeout_s: 45 }\n")).toEqual([]);
  });
});
