/**
 * Names for numbers: the config's `phonebook.numbers` plus an optional CSV file of
 * `number,name` lines. Numbers are compared in national form, so "+81 3-1234-5678",
 * "03-1234-5678" and "0312345678" are one entry (the NGN presents national numbers).
 */
import { readFileSync } from "node:fs";

/** Digits only, +81 turned into the national trunk prefix 0. */
export function normalizeNumber(raw: string): string {
  const t = raw.trim();
  const digits = t.replace(/[^0-9*#]/g, "");
  if (t.startsWith("+81")) return "0" + digits.slice(2);
  if (t.startsWith("+")) return "+" + digits;
  return digits;
}

/** `number,name` per line; `#` comments and blank lines skipped; the name may be "quoted" and contain commas. */
export function parsePhonebookCsv(text: string): { entries: Map<string, string>; errors: string[] } {
  const entries = new Map<string, string>();
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith("#")) return;
    const comma = l.indexOf(",");
    const number = comma < 0 ? "" : normalizeNumber(l.slice(0, comma));
    let name = comma < 0 ? "" : l.slice(comma + 1).trim();
    if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1).replace(/""/g, '"');
    if (!number || !name) {
      errors.push(`line ${i + 1}: expected "number,name"`);
      return;
    }
    entries.set(number, name);
  });
  return { entries, errors };
}

export class Phonebook {
  private readonly names = new Map<string, string>();

  /** `file` entries first, so the config's own entries win. */
  constructor(numbers: Record<string, string>, fileEntries: Map<string, string> = new Map()) {
    for (const [n, name] of fileEntries) this.names.set(n, name);
    for (const [n, name] of Object.entries(numbers)) this.names.set(normalizeNumber(n), name);
  }

  /** Reads `file` (a missing or bad file is the caller's to report with its config key). */
  static load(numbers: Record<string, string>, file: string | undefined): { book: Phonebook; errors: string[] } {
    if (!file) return { book: new Phonebook(numbers), errors: [] };
    const { entries, errors } = parsePhonebookCsv(readFileSync(file, "utf8"));
    return { book: new Phonebook(numbers, entries), errors };
  }

  name(number: string | undefined): string | undefined {
    if (!number || number === "anonymous") return undefined;
    return this.names.get(normalizeNumber(number));
  }

  get size(): number {
    return this.names.size;
  }
}
