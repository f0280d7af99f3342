/**
 * The shipped tree (src/, less its *.test.ts) never imports test support: rigs, fakes and
 * fixtures live under test/support/ and only tests reach them. A shipped file that imported
 * one would drag test code into dist/ (or fail to build there at all).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Every relative module specifier in a file, resolved to a path under the repository. */
export function relativeImports(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]!);
  return specs.map((s) => relative(root, resolve(dirname(file), s)));
}

/** Shipped files (and their imports) that reach test support, as `file -> target` lines. */
export function testSupportImports(files: string[], read = (f: string) => readFileSync(f, "utf8")): string[] {
  const bad: string[] = [];
  for (const f of files) {
    for (const target of relativeImports(f, read(f))) {
      if (target.startsWith("test/") || /(^|\/)(test-[^/]*|fake-[^/]*|fixtures)\.(js|ts)$/.test(target) || /\.test\.(js|ts)$/.test(target)) {
        bad.push(`${relative(root, f)} -> ${target}`);
      }
    }
  }
  return bad;
}

describe("shipped tree", () => {
  const shipped = walk(join(root, "src")).filter((f) => !f.endsWith(".test.ts"));

  it("has no test support files in it", () => {
    const support = shipped.map((f) => relative(root, f)).filter((f) => /(^|\/)(test-[^/]*|fake-[^/]*|fixtures|testing\/[^/]*)\.ts$/.test(f));
    expect(support).toEqual([]);
  });

  it("imports nothing from test support", () => {
    expect(shipped.length).toBeGreaterThan(50);
    expect(testSupportImports(shipped)).toEqual([]);
  });

  it("the check catches a shipped file that imports a rig", () => {
    const f = join(root, "src/pbx/pbx.ts");
    const text = 'import { Pbx } from "./pbx.js";\nimport { PbxRig } from "../../test/support/pbx/pbx-rig.js";';
    expect(testSupportImports([f], () => text)).toEqual(["src/pbx/pbx.ts -> test/support/pbx/pbx-rig.js"]);
  });
});
