/**
 * Lab prerequisites. The lab needs root (network namespaces) and Debian tools. On a
 * developer's machine without them a lab file skips LOUDLY; under CI=true a missing
 * prerequisite fails the run instead, so a skipped lab can never pass as green.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export interface LabCheck {
  ok: boolean;
  missing: string[];
}

/** Whether a command is on PATH. */
export function have(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** @param files paths that must exist too (e.g. a binfmt_misc entry), named as missing if not */
export function checkLab(tools: string[], files: string[] = []): LabCheck {
  const missing: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0) missing.push("root");
  for (const t of ["ip", ...tools]) if (!have(t)) missing.push(t);
  for (const f of files) if (!existsSync(f)) missing.push(f);
  if (!missing.includes("root")) {
    try {
      execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    } catch {
      missing.push("ip netns");
    }
  }
  return { ok: missing.length === 0, missing };
}

/**
 * Returns true when the lab can run. Otherwise prints a loud warning and returns false
 * (use with `describe.skipIf(!labReady(...))`), or throws under CI=true.
 */
export function labReady(suite: string, tools: string[], files: string[] = []): boolean {
  const c = checkLab(tools, files);
  if (c.ok) return true;
  const msg = `LAB SKIPPED: ${suite} needs ${c.missing.join(", ")}`;
  if (process.env.CI === "true") throw new Error(`${msg} (CI=true: a skipped lab fails the run)`);
  // eslint-disable-next-line no-console
  console.warn(`\n*** ${msg} ***\n`);
  return false;
}
