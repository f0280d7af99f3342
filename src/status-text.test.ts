import { describe, expect, it } from "vitest";
import { renderStatus } from "./status-text.js";

describe("renderStatus (hikari-gw status without --json)", () => {
  it("shows a call on hold and each side's live media: packets, loss, jitter, who is silent", () => {
    const text = renderStatus({
      version: "0.1.0",
      uptime_s: 12,
      trunk: { state: "registered", number: "0312345678" },
      extensions: [{ number: "801", name: "Alice", registered: true }],
      calls: [
        {
          call_id: "abc",
          state: "answered",
          direction: "internal",
          from: "801",
          to: "802",
          extension: "802",
          since: "2026-12-06T03:00:00.000Z",
          on_hold: "caller",
          media: {
            a: { rx: { packets: 198, lost: 2, jitterMs: 1.25 }, silent_ms: 40, onHold: true },
            b: { rx: { packets: 500, lost: 0, jitterMs: 0.5 }, silent_ms: 6500, onHold: false },
          },
        },
      ],
      media: { sessions: 1 },
    });
    expect(text).toContain("trunk: registered (0312345678)");
    expect(text).toContain("abc: answered, on hold by the caller, internal 801 → 802 (802)");
    expect(text).toContain("caller: rx 198 pkts, lost 2 (1.0%), jitter 1.3 ms, silent 0.0 s, on hold");
    expect(text).toContain("callee: rx 500 pkts, lost 0 (0.0%), jitter 0.5 ms, SILENT 6.5 s");
    expect(text).toContain("media sessions: 1");
  });

  it("shows the answering machine's box when it is on, nothing of it when off", () => {
    expect(renderStatus({ version: "1", voicemail: { new: 2, total: 5 } })).toContain("voicemail: 2 new of 5\n");
    expect(renderStatus({ version: "1" })).not.toContain("voicemail");
  });

  it("prints what it can of a status missing fields, never throws", () => {
    expect(renderStatus(null)).toContain("calls: 0");
    expect(renderStatus({ calls: [{}], trunk: "x" })).toContain("-: -, - - → -, since -");
  });
});
