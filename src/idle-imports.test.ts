/**
 * What an idle gateway must not load (docs/performance.md, "Idle memory"): modules that only a
 * feature in use needs are imported when it starts. `node:http` is the costly one: on Node 24
 * (the Pi image's) importing it pulls undici, tls and http2 in through its WebSocket getter,
 * ~14 MB of RSS; it is loaded by the provisioning listener when `phone add` or voicemail needs it.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { staticClosure } from "../test/support/import-graph.js";

const gateway = fileURLToPath(new URL("./gateway.ts", import.meta.url));

/** Loaded on demand only: by the feature that needs it, with a dynamic import(). */
const ON_DEMAND = ["node:http", "node:https", "node:http2", "node:tls", "mqtt", "aedes", "qrcode", "wavefile", "alawmulaw"];

describe("an idle gateway's imports", () => {
  it("the gateway's static import graph holds none of the on-demand modules", () => {
    const reached = staticClosure(gateway);
    const found = ON_DEMAND.filter((m) => reached.has(m)).map((m) => `${m} via ${reached.get(m)!.map((f) => f.replace(/^.*\/src\//, "src/")).join(" → ")}`);
    expect(found).toEqual([]);
    // The graph is the real one: it reaches the layers the gateway does start at idle.
    expect([...reached.keys()].some((f) => f.endsWith("/src/pbx/pbx.ts"))).toBe(true);
    expect(reached.has("node:dgram")).toBe(true);
  });
});
