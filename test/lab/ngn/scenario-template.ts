/**
 * SIPp takes no variables in timing attributes (pause milliseconds, recv timeout) and cannot
 * switch a header on or off, so the scenario files carry placeholders that are filled here
 * before SIPp reads them: {{name}} is a value, and <!--{{#name}}--> ... <!--{{/name}}--> is a
 * section kept when the value is true and dropped (with any line it leaves blank) otherwise.
 * Every placeholder must be given a value: a missing one throws rather than run a broken file.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type TemplateValues = Record<string, string | number | boolean>;

const DROP = "\u0000drop\u0000";

export function renderScenario(text: string, values: TemplateValues): string {
  let out = text.replace(/<!--\{\{#(\w+)\}\}-->([\s\S]*?)<!--\{\{\/\1\}\}-->/g, (_m, name: string, body: string) => {
    if (!(name in values)) throw new Error(`scenario section {{#${name}}} has no value`);
    return values[name] ? body : DROP;
  });
  out = out
    .split("\n")
    .filter((l) => !(l.includes(DROP) && l.replace(DROP, "").trim() === ""))
    .join("\n")
    .replaceAll(DROP, "");
  return out.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`scenario placeholder {{${name}}} has no value`);
    return String(v);
  });
}

/** Render scenarios/<name>.xml into dir and return the path of the rendered file. */
export function writeScenario(scenarioDir: string, name: string, dir: string, values: TemplateValues, suffix = ""): string {
  const text = readFileSync(join(scenarioDir, `${name}.xml`), "utf8");
  const path = join(dir, `${name}${suffix}.xml`);
  writeFileSync(path, renderScenario(text, values));
  return path;
}
