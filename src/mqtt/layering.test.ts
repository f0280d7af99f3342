/** src/mqtt/ sees only events, the status and command types, config types and small helpers: never pbx/, trunk/, sip/, media/, dhcp/ or the gateway. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const SRC = join(HERE, "..");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : []));
}

/** Every module specifier a file imports (static and dynamic). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) out.push((m[1] ?? m[2])!);
  return out;
}

const FORBIDDEN = /^(pbx|trunk|sip|media|dhcp)\/|^gateway\.js$|^control\.js$/;

describe("src/mqtt layering", () => {
  it("no file under src/mqtt imports pbx/, trunk/, sip/, media/, dhcp/ or the gateway", () => {
    const found: string[] = [];
    for (const f of files(HERE)) {
      for (const spec of importsOf(readFileSync(f, "utf8"))) {
        if (!spec.startsWith(".")) continue;
        const target = relative(SRC, join(f, "..", spec));
        if (FORBIDDEN.test(target.replace(/\\/g, "/"))) found.push(`${relative(SRC, f)} imports ${spec}`);
      }
    }
    expect(found).toEqual([]);
    expect(files(HERE).length).toBeGreaterThan(5);
  });

  it("the rule sees a forbidden import (the check can fail)", () => {
    const specs = importsOf('import { Pbx } from "../pbx/pbx.js";\nconst t = await import("../trunk/trunk.js");');
    expect(specs).toEqual(["../pbx/pbx.js", "../trunk/trunk.js"]);
    expect(FORBIDDEN.test(relative(SRC, join(HERE, "service.ts", "..", specs[0]!)))).toBe(true);
  });
});
