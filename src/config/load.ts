/**
 * Loading: read YAML, validate against the schema, report every problem at once with its
 * YAML path (`extensions[1].password: required`), like `check-config` prints them.
 */
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { z } from "zod/mini";
import { configSchema, type Config } from "./schema.js";
import { ConfigError } from "./errors.js";
import { semanticProblems } from "./semantic.js";

export { ConfigError, type ConfigProblem } from "./errors.js";

/** `["extensions", 1, "password"]` → `extensions[1].password`. */
export function yamlPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out || "(top level)";
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    // zod reports a missing key as invalid_type with received undefined.
    const received = (issue as { input?: unknown }).input;
    if (received === undefined) return "required";
    return `expected ${issue.expected}, got ${received === null ? "null" : Array.isArray(received) ? "array" : typeof received}`;
  }
  if (issue.code === "unrecognized_keys") return `unknown key(s): ${issue.keys.join(", ")}`;
  return issue.message;
}

export function validateConfig(raw: unknown, file = "config"): Config {
  const result = configSchema().safeParse(raw ?? {}, { reportInput: true });
  const problems = result.success ? [] : result.error.issues.map((i) => ({ path: yamlPath(i.path), message: describeIssue(i) }));
  problems.push(...semanticProblems(raw));
  if (result.success && problems.length === 0) return result.data;
  throw new ConfigError(file, problems);
}

export function parseConfigText(text: string, file = "config"): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? "?"}`, message: e.message.split("\n")[0] })),
    );
  }
  return validateConfig(doc.toJS(), file);
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [{ path: "(file)", message: (err as Error).message }]);
  }
  return parseConfigText(text, file);
}

/** The effective config with secrets masked, for check-config and bridge/info. */
export function maskSecrets(cfg: Config): unknown {
  const copy = structuredClone(cfg) as Config;
  for (const e of copy.extensions) e.password = "***";
  if (copy.trunk.password) copy.trunk.password = "***";
  if (copy.mqtt.password) copy.mqtt.password = "***";
  return copy;
}
