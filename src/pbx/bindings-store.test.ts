import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { BindingsStore, type Binding } from "./bindings-store.js";

function binding(n: number, expiresAt: number): Binding {
  return {
    aor: "801",
    contact: `sip:801@198.18.1.${n}:5060;transport=udp`,
    source: { address: `198.18.1.${n}`, port: 40000 + n },
    path: [],
    userAgent: "Linphone/5.2",
    callId: `cid-${n}`,
    cseq: n,
    expiresAt,
    q: 0.5,
  };
}

/** Lets the fs promises of a write run to the end (a handful of libuv round trips). */
async function settle(store: BindingsStore): Promise<void> {
  await store.flush();
}

describe("BindingsStore", () => {
  let dir: string;
  let clock: ManualClock;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hikari-bindings-"));
    clock = new ManualClock(1_700_000_000_000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("starts empty without a file and round-trips bindings, dropping expired ones", async () => {
    const a = new BindingsStore({ stateDir: dir, clock, log: silentLogger() });
    expect(a.load()).toEqual([]);
    const list = [binding(1, clock.now() + 60_000), binding(2, clock.now() + 3_600_000)];
    a.changed(() => list);
    await a.close();
    expect(a.writes).toBe(1);
    clock.advance(120_000);
    const b = new BindingsStore({ stateDir: dir, clock, log: silentLogger() });
    expect(b.load()).toEqual([list[1]]);
    // No temp files left behind.
    expect(readdirSync(dir)).toEqual(["bindings.json"]);
  });

  it("recreates state_dir when it was removed under a running gateway", async () => {
    const sub = join(dir, "state");
    const a = new BindingsStore({ stateDir: sub, clock, log: silentLogger() });
    rmSync(sub, { recursive: true, force: true });
    a.changed(() => [binding(1, clock.now() + 60_000)]);
    await a.close();
    expect(a.writes).toBe(1);
    expect(existsSync(join(sub, "bindings.json"))).toBe(true);
  });

  it("throttles a burst of changes into one write per delay", async () => {
    const store = new BindingsStore({ stateDir: dir, clock, log: silentLogger(), delayMs: 1000 });
    let built = 0;
    const list: Binding[] = [];
    for (let i = 0; i < 1000; i++) {
      list.push(binding(i % 250, clock.now() + 60_000));
      store.changed(() => (built++, list));
    }
    expect(store.writes).toBe(0);
    clock.advance(999);
    await settle(store); // nothing due yet: flush writes now, but only once for the whole burst
    expect(store.writes).toBe(1);
    expect(built).toBe(1);
    expect(JSON.parse(readFileSync(store.path, "utf8")).bindings).toHaveLength(1000);
    clock.advance(10_000);
    await settle(store);
    expect(store.writes).toBe(1); // nothing changed since
  });

  it("writes on the timer without an explicit flush", async () => {
    const store = new BindingsStore({ stateDir: dir, clock, log: silentLogger(), delayMs: 500 });
    store.changed(() => [binding(7, clock.now() + 60_000)]);
    clock.advance(500); // fires the timer, which starts the write
    await settle(store); // waits for the in-flight write
    expect(store.writes).toBe(1);
    expect(existsSync(store.path)).toBe(true);
    await store.close();
  });

  it("sets a corrupt file aside and starts empty", () => {
    writeFileSync(join(dir, "bindings.json"), '{"version":1,"bindings":[{"aor":');
    const store = new BindingsStore({ stateDir: dir, clock, log: silentLogger() });
    expect(store.load()).toEqual([]);
    expect(existsSync(join(dir, "bindings.json.corrupt"))).toBe(true);
    expect(existsSync(join(dir, "bindings.json"))).toBe(false);
  });

  it("skips malformed entries of an otherwise good file", () => {
    const good = binding(3, clock.now() + 60_000);
    writeFileSync(join(dir, "bindings.json"), JSON.stringify({ version: 1, bindings: [good, { aor: 5 }, null] }));
    const store = new BindingsStore({ stateDir: dir, clock, log: silentLogger() });
    expect(store.load()).toEqual([good]);
  });

  it("ignores changes after close", async () => {
    const store = new BindingsStore({ stateDir: dir, clock, log: silentLogger() });
    await store.close();
    store.changed(() => [binding(1, clock.now() + 1000)]);
    clock.advance(60_000);
    await store.flush();
    expect(store.writes).toBe(0);
    expect(clock.pending()).toBe(0);
  });
});
