/** Config tests' helper: what parseConfigText refuses in `text`, as "key.path: message" lines ([] when it loads). */
import { ConfigError, parseConfigText } from "../../../src/config/load.js";

export function configProblems(text: string): string[] {
  try {
    parseConfigText(text, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}
