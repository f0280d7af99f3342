/**
 * The shipped command is one CommonJS file (scripts/bundle.mjs; why: there and in
 * docs/performance.md). Built here into a scratch directory inside the repository (so that
 * ../package.json and node_modules resolve as from dist/), then checked for what makes it small
 * at idle, and run.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { isBuiltin } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script without types
import { BUNDLED, bundle, externals } from "../../scripts/bundle.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const out = join(root, `.bundle-test-${process.pid}`);
let code = "";

beforeAll(async () => {
  mkdirSync(out, { recursive: true });
  await (bundle as (root: string, outDir: string) => Promise<void>)(root, out);
  code = readFileSync(join(out, "hikari-gw.cjs"), "utf8");
}, 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the bundled command (dist/hikari-gw.cjs)", () => {
  it("is ASCII and carries no comments: V8 holds the source at one byte a character", () => {
    expect([...code].findIndex((c) => c.charCodeAt(0) > 0x7f)).toBe(-1);
    expect(code).not.toMatch(/\n\s*\/\*\*/);
    expect(code).not.toContain("RFC 3261 §");
  });

  it("requires from node_modules only the packages left out on purpose, never a bundled one", () => {
    const required = new Set([...code.matchAll(/require\("([^".][^"]*)"\)/g)].map((m) => m[1]!).filter((s) => !isBuiltin(s)));
    const allowed = (externals as (root: string) => string[])(root);
    for (const r of required) expect(allowed.some((a) => a === r || (a.endsWith("/*") && r.startsWith(a.slice(0, -1)))), `${r} is required but not external`).toBe(true);
    for (const b of BUNDLED as string[]) expect(required.has(b), `${b} should be inside the bundle`).toBe(false);
    // The features' packages stay out of the one script: their source would be held from start-up.
    expect(required).toContain("mqtt");
    expect(required).toContain("aedes");
  });

  it("runs: check-config on the bundled default config, through the launcher", () => {
    const printed = execFileSync(process.execPath, [join(out, "cli.js"), "check-config", "--config", join(root, "config", "default.yaml")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(printed).toMatch(/^wan:\n {2}interface: none/m);
    expect(printed).toMatch(/^extensions:/m);
  });
});
