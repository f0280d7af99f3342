/**
 * Lab prerequisites. The lab needs root (network namespaces) and Debian tools. On a
 * developer's machine without them a lab file skips LOUDLY; under CI=true a missing
 * prerequisite fails the run instead, so a skipped lab can never pass as green.
 */
import { execFileSync } from "node:child_process";

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

export function checkLab(tools: string[]): LabCheck {
  const missing: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0) missing.push("root");
  for (const t of ["ip", ...tools]) if (!have(t)) missing.push(t);
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
export function labReady(suite: string, tools: string[]): boolean {
  const c = checkLab(tools);
  if (c.ok) return true;
  const msg = `LAB SKIPPED: ${suite} needs ${c.missing.join(", ")}`;
  if (process.env.CI === "true") throw new Error(`${msg} (CI=true: a skipped lab fails the run)`);
  // eslint-disable-next-line no-console
  console.warn(`\n*** ${msg} ***\n`);
  return false;
}
