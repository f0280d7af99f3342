/**
 * Checks that span several keys (duplicates, references between sections). They run on the
 * raw YAML in the same pass as the schema, so one `check-config` run reports every error —
 * not schema errors first and these only on a second try (zigbee2mqtt's flaw).
 */
import type { ConfigProblem } from "./errors.js";

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function semanticProblems(raw: unknown): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const root = obj(raw) ?? {};
  const numbers = new Set<string>();
  arr(root.extensions).forEach((e, i) => {
    const n = obj(e)?.number;
    if (typeof n !== "string") return;
    if (numbers.has(n)) out.push({ path: `extensions[${i}].number`, message: `duplicate extension ${n}` });
    numbers.add(n);
  });
  arr(root.dialplan).forEach((r, i) => {
    const to = obj(r)?.to;
    if (typeof to === "string" && to !== "extension" && to !== "trunk" && !numbers.has(to))
      out.push({ path: `dialplan[${i}].to`, message: `expected "extension", "trunk" or a configured extension number; got "${to}"` });
  });
  const inbound = obj(root.inbound);
  arr(inbound?.ring).forEach((n, i) => {
    if (typeof n === "string" && !numbers.has(n)) out.push({ path: `inbound.ring[${i}]`, message: `no extension "${n}"` });
  });
  for (const [called, list] of Object.entries(obj(inbound?.numbers) ?? {}))
    arr(list).forEach((n, i) => {
      if (typeof n === "string" && !numbers.has(n)) out.push({ path: `inbound.numbers.${called}[${i}]`, message: `no extension "${n}"` });
    });
  const pbx = obj(root.pbx);
  if (typeof pbx?.min_expires === "number" && typeof pbx?.max_expires === "number" && pbx.min_expires > pbx.max_expires)
    out.push({ path: "pbx.min_expires", message: "must not exceed pbx.max_expires" });
  const trunk = obj(root.trunk);
  const wanIf = obj(root.wan)?.interface;
  if (trunk?.enabled !== false && wanIf === "none" && !trunk?.server)
    out.push({ path: "trunk.server", message: 'required when wan.interface is "none" and the trunk is enabled' });
  // Two sockets on one address and port: the second bind fails (EADDRINUSE) and that part never starts.
  const lan = obj(root.lan);
  if (trunk?.enabled !== false && typeof trunk?.local_address === "string" && trunk.local_address === lan?.listen && (lan?.port ?? 5060) === (trunk?.local_port ?? 5060))
    out.push({ path: "lan.listen", message: `${String(lan?.listen)}:${String(lan?.port ?? 5060)} is also the trunk's (trunk.local_address, trunk.local_port): listen on the LAN address, or use another lan.port` });
  const dialExt = obj(root.mqtt)?.dial_extension;
  if (typeof dialExt === "string" && !numbers.has(dialExt)) out.push({ path: "mqtt.dial_extension", message: `no extension "${dialExt}"` });
  out.push(...mqttProblems(obj(root.mqtt)));
  return out;
}

/** The embedded broker never lets anyone in unnoticed: credentials, or anonymous access said out loud. */
function mqttProblems(mqtt: Raw | undefined): ConfigProblem[] {
  if (mqtt?.server !== "embedded") return [];
  const hasUser = typeof mqtt.username === "string" && typeof mqtt.password === "string";
  if (hasUser || mqtt.allow_anonymous === true) return [];
  return [{ path: "mqtt.username", message: 'the embedded broker needs mqtt.username and mqtt.password, or mqtt.allow_anonymous: true' }];
}
