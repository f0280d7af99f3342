import { describe, expect, it } from "vitest";
import type { Binding } from "./bindings-store.js";
import { bindingTargets, destinationKey, onePerDestination } from "./targets.js";

function binding(contact: string, address: string, port: number, path: string[] = []): Binding {
  return { aor: "802", contact, source: { address, port }, path, callId: "c", cseq: 1, expiresAt: 1 };
}

describe("call targets", () => {
  it("rings a destination once: the first (preferred) binding of each flow wins", () => {
    const list = [
      binding("sip:802@192.168.1.10:5060;rinstance=new", "198.18.0.12", 5060),
      binding("sip:802@192.168.1.10:5060", "198.18.0.21", 5060),
      binding("sip:802@192.168.1.10:5060;rinstance=old", "198.18.0.12", 5060),
      binding("sip:802@192.168.1.10:5062", "198.18.0.12", 5062),
    ];
    expect(onePerDestination(list)).toEqual([list[0], list[1], list[3]]);
    const targets = bindingTargets(list, "Bob", "198.18.0.1");
    expect(targets.map((t) => `${t.destination.address}:${t.destination.port} ${t.uri.params.get("rinstance") ?? "-"}`)).toEqual([
      "198.18.0.12:5060 new",
      "198.18.0.21:5060 -",
      "198.18.0.12:5062 -",
    ]);
    expect(targets[0]!.to.displayName).toBe("Bob");
  });

  it("tells phones behind one proxy (Path) apart by contact", () => {
    const viaProxy = [
      binding("sip:802@10.0.0.1:5060", "198.18.0.30", 5060, ["<sip:edge;lr>"]),
      binding("sip:802@10.0.0.2:5060", "198.18.0.30", 5060, ["<sip:edge;lr>"]),
    ];
    expect(onePerDestination(viaProxy)).toHaveLength(2);
    expect(destinationKey(viaProxy[0]!)).not.toBe(destinationKey(viaProxy[1]!));
  });
});
