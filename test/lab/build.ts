/**
 * dist/ as `npm run build` makes it: tsc's per-module output and the one-file command
 * (scripts/bundle.mjs) that dist/cli.js launches. Labs that build for themselves use this, never
 * tsc alone: tsc's own dist/cli.js would replace the launcher, and every lab after it would run
 * a gateway the box never runs.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function buildDist(): void {
  try {
    execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "ignore", timeout: 180_000 });
  } catch {
    /* tsc emits despite type errors elsewhere (and then the bundle is not made): the callers check what they need */
  }
}
