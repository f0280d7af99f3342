/**
 * The YAML's extensions and the phones in state_dir, merged: the YAML's stay the user's and
 * win; a stored phone whose number the YAML now uses is left out (and named, for check-config).
 */
import type { PhoneRecord } from "./phone-store.js";

export interface MergedExtension {
  number: string;
  password: string;
  name?: string;
  caller_id?: string;
  /** "config" (the YAML) or "phone" (added with `hikari-gw phone add`). */
  source: "config" | "phone";
}

export function mergeExtensions(configured: readonly { number: string; password: string; name?: string; caller_id?: string }[], phones: readonly PhoneRecord[]): { extensions: MergedExtension[]; shadowed: string[] } {
  const out: MergedExtension[] = configured.map((e) => ({ ...e, source: "config" as const }));
  const taken = new Set(out.map((e) => e.number));
  const shadowed: string[] = [];
  for (const p of phones) {
    if (taken.has(p.extension)) {
      shadowed.push(p.name);
      continue;
    }
    taken.add(p.extension);
    out.push({ number: p.extension, password: p.password, name: p.name, source: "phone" });
  }
  return { extensions: out, shadowed };
}
