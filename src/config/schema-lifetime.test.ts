/**
 * The gateway keeps the parsed config, not the schema: what loading a config builds in zod is
 * garbage once it has returned. A schema held by a module (loaded modules stay for the process's
 * life) would keep ~0.3 MB of V8 heap at idle for nothing.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { z } from "zod/mini";
import { collected } from "../../test/support/heap.js";

describe("config schema lifetime", () => {
  it("every zod object built to load a config is garbage once it is loaded", async () => {
    const text = readFileSync(new URL("../../config/default.yaml", import.meta.url), "utf8");
    const built: WeakRef<object>[] = [];
    let whole: WeakRef<object> | undefined;
    // zod calls this on every schema and check it constructs (its own hook for `zod/compile`,
    // marked internal): the one way to see the objects that loading builds without holding them.
    const postProcessor = (inst: { _zod?: { def?: { type?: string; shape?: object } } }) => {
      built.push(new WeakRef(inst));
      const def = inst._zod?.def;
      if (def?.type === "object" && def.shape !== undefined && "state_dir" in def.shape) whole = new WeakRef(inst);
    };
    z.config({ postProcessor });
    let loaded: unknown;
    try {
      // Imported here, after the hook, so a schema built when the module loads is seen too.
      const { parseConfigText } = await import("./load.js");
      loaded = parseConfigText(text);
    } finally {
      z.config({ postProcessor: undefined });
    }
    // The whole config schema: ~20 blocks of a dozen keys, each a schema and its checks.
    expect(built.length).toBeGreaterThan(200);
    expect(whole).toBeDefined();
    expect(await collected(whole!)).toBe(true);
    // Not quite all of it: zod keeps the first instance of each of its schema types (a lazily
    // computed field, installed once on the type's shared prototype, closes over that instance's
    // definition), ~50 small objects of the ~460 here, the same whichever schema comes first.
    expect(built.filter((r) => r.deref() !== undefined).length).toBeLessThan(built.length / 4);
    expect(loaded).toMatchObject({ extensions: [{ number: "801" }, { number: "802" }] });
  });
});
