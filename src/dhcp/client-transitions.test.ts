import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { pino } from "pino";
import { DhcpClientMachine, type DhcpState } from "./client-fsm.js";
import { DHCP_TRANSITIONS, dhcpTransitionAllowed } from "./client-transitions.js";
import { DhcpMessageType, messageType, type DhcpMessage } from "./packet.js";
import { bootReply, NGN_ACK_OPTIONS_HEX } from "../../test/support/dhcp/fixtures.js";

const STATES = Object.keys(DHCP_TRANSITIONS) as DhcpState[];

/** RFC 2131 figure 5, edge by edge (plus start and stop, which the figure leaves out). */
const FIGURE_5: [DhcpState, DhcpState][] = [
  ["init", "selecting"],
  ["selecting", "requesting"],
  ["requesting", "bound"],
  ["requesting", "init"],
  ["init-reboot", "rebooting"],
  ["rebooting", "bound"],
  ["rebooting", "init"],
  ["bound", "renewing"],
  ["renewing", "bound"],
  ["renewing", "rebinding"],
  ["renewing", "init"],
  ["rebinding", "bound"],
  ["rebinding", "init"],
  ["stopped", "init"],
  ["stopped", "init-reboot"],
];

describe("DHCP client transitions (RFC 2131 §4.4, figure 5)", () => {
  it("allows exactly the figure's edges, start, and stop from anywhere", () => {
    const allowed = new Set([...FIGURE_5, ...STATES.map((s): [DhcpState, DhcpState] => [s, "stopped"])].map(([f, t]) => `${f}>${t}`));
    for (const from of STATES)
      for (const to of STATES) expect(dhcpTransitionAllowed(from, to), `${from} → ${to}`).toBe(allowed.has(`${from}>${to}`));
  });
});

/** The machine with its guarded transition() reachable, as a stray timer or reply would reach it. */
class ProbedMachine extends DhcpClientMachine {
  force(to: DhcpState): boolean {
    return this.transition(to);
  }
}

function machine() {
  const clock = new ManualClock(1_700_000_000_000);
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const sent: DhcpMessage[] = [];
  const leased: string[] = [];
  const m = new ProbedMachine({
    iface: "wan0",
    identity: { mac: Buffer.from("020000000001", "hex"), requestOptions: [1, 3, 51], enterprise: null },
    clock,
    log,
    random: () => 0.5,
    initDelayMs: 0,
    hooks: { send: (msg) => void sent.push(msg), leased: (kind, l) => void leased.push(`${kind} ${l.address}`), lost: () => undefined },
  });
  const refused = () => lines.filter((l) => l.msg === "DHCP state transition refused");
  return { clock, m, sent, leased, lines, refused };
}

describe("DhcpClientMachine: a transition figure 5 does not draw", () => {
  it("is refused and logged: the state stays, nothing is sent, no timer is started", () => {
    const t = machine();
    t.m.start(null);
    t.clock.advance(0);
    expect(t.m.state).toBe("selecting");
    expect(t.sent.map(messageType)).toEqual([DhcpMessageType.discover]);
    const timers = t.clock.pending();

    expect(t.m.force("bound")).toBe(false);
    expect(t.m.state).toBe("selecting");
    expect(t.sent).toHaveLength(1);
    expect(t.clock.pending()).toBe(timers);
    expect(t.refused()).toEqual([expect.objectContaining({ level: 40, from: "selecting", to: "bound" })]);
  });

  it("leaves a bound machine bound and its lease timers running (no REQUEST from BOUND straight to REQUESTING)", () => {
    const t = machine();
    t.m.start(null);
    t.clock.advance(0);
    const xid = t.sent[0]!.xid;
    t.m.receive(bootReply("35 01 02 36 04 c6 12 01 01 33 04 00 00 38 40 ff", { xid }), "198.18.1.1");
    t.m.receive(bootReply(NGN_ACK_OPTIONS_HEX, { xid }), "198.18.1.1");
    expect(t.m.state).toBe("bound");
    expect(t.leased).toEqual(["bound 198.18.1.2"]);
    const sent = t.sent.length;

    expect(t.m.force("requesting")).toBe(false);
    expect(t.m.force("selecting")).toBe(false);
    expect(t.m.state).toBe("bound");
    expect(t.refused().map((l) => `${l.from} → ${l.to}`)).toEqual(["bound → requesting", "bound → selecting"]);
    // T1 (7200 s) still moves it on as figure 5 says.
    t.clock.advance(7200 * 1000);
    expect(t.m.state).toBe("renewing");
    expect(t.sent.length).toBe(sent + 1);
  });

  it("logs a stream of refusals at a bounded rate, with the count of those left out", () => {
    const t = machine();
    t.m.start(null);
    t.clock.advance(0);
    for (let i = 0; i < 1000; i++) t.m.force("rebinding");
    expect(t.refused().length).toBeLessThanOrEqual(5);
    t.clock.advance(1000);
    t.m.force("rebinding");
    expect(t.refused().at(-1)).toMatchObject({ from: "selecting", to: "rebinding", suppressed: 995 });
  });
});
