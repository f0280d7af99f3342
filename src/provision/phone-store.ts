/**
 * The phones added with `hikari-gw phone add`: kept in state_dir/phones.json (mode 0600, it
 * holds their SIP passwords), never in the user's YAML. Written whole through a temporary
 * file and a rename so a crash leaves the old list or the new one, never half of one.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface PhoneRecord {
  name: string;
  extension: string;
  password: string;
  /** The phone's WireGuard peer, when the VPN was on at `phone add`; only its public key is kept. */
  wireguard?: { public_key: string; address: string };
  created_at: string;
}

export const phonesPath = (stateDir: string) => join(stateDir, "phones.json");

export function loadPhones(stateDir: string): PhoneRecord[] {
  const path = phonesPath(stateDir);
  if (!existsSync(path)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new Error(`${path}: expected a list of phones`);
  return raw.map((p, i) => {
    const r = p as Partial<PhoneRecord>;
    if (typeof r.name !== "string" || typeof r.extension !== "string" || typeof r.password !== "string") throw new Error(`${path}: phone ${i} lacks name, extension or password`);
    return r as PhoneRecord;
  });
}

export function savePhones(stateDir: string, phones: readonly PhoneRecord[]): void {
  mkdirSync(stateDir, { recursive: true });
  const path = phonesPath(stateDir);
  const tmp = path + ".tmp";
  writeFileSync(tmp, JSON.stringify(phones, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** A phone's name: what `phone remove NAME` names it by. */
export function validPhoneName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$/.test(name);
}

/** The next free extension number: one past the highest numeric one, starting at 801. */
export function nextExtension(used: Iterable<string>): string {
  const taken = new Set(used);
  for (let n = 801; n < 899; n++) if (!taken.has(String(n))) return String(n);
  for (let n = 8001; n < 8999; n++) if (!taken.has(String(n))) return String(n);
  throw new Error("no free extension number left in 801-898 or 8001-8998");
}
