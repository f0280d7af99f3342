/**
 * `hikari-gw status` for a person: one line for the trunk, one per extension, and per call
 * its state, who holds it, and each side's live media (packets, loss, jitter, silence).
 * `--json` prints the whole object instead. The status comes from the gateway over the
 * control socket, so every field is read defensively: a missing one prints as "-".
 */

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "-");
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** One side's live media: `rx 1234 pkts, lost 2 (0.2%), jitter 3.1 ms, silent 0.4 s`. */
function sideLine(name: string, v: unknown): string {
  const s = obj(v);
  const rx = obj(s.rx);
  const packets = num(rx.packets);
  const lost = num(rx.lost);
  const jitter = num(rx.jitterMs ?? rx.jitter_ms);
  const silent = num(s.silent_ms);
  const parts = [`rx ${packets ?? "-"} pkts`];
  if (lost !== undefined) parts.push(`lost ${lost}${packets ? ` (${((100 * lost) / (packets + lost)).toFixed(1)}%)` : ""}`);
  if (jitter !== undefined) parts.push(`jitter ${jitter.toFixed(1)} ms`);
  if (silent !== undefined) parts.push(silent >= 2000 ? `SILENT ${(silent / 1000).toFixed(1)} s` : `silent ${(silent / 1000).toFixed(1)} s`);
  if (s.onHold === true) parts.push("on hold");
  return `      ${name}: ${parts.join(", ")}`;
}

export function renderStatus(status: unknown): string {
  const st = obj(status);
  const out: string[] = [];
  out.push(`hikari-gw ${str(st.version)}, up ${str(st.uptime_s)} s`);
  const trunk = obj(st.trunk);
  out.push(`trunk: ${str(trunk.state)}${trunk.number ? ` (${str(trunk.number)})` : ""}${trunk.last_error ? `, last error: ${str(trunk.last_error)}` : ""}`);
  const exts = list(st.extensions).map(obj);
  out.push(`extensions: ${exts.length === 0 ? "none" : exts.map((e) => `${str(e.number)}${e.name ? ` (${str(e.name)})` : ""} ${e.registered === true ? "registered" : e.registered === false ? "not registered" : ""}`.trim()).join("; ")}`);
  const calls = list(st.calls).map(obj);
  out.push(`calls: ${calls.length}`);
  for (const c of calls) {
    const hold = c.on_hold ? `, on hold by the ${str(c.on_hold)}` : "";
    out.push(`  ${str(c.call_id)}: ${str(c.state)}${hold}, ${str(c.direction)} ${str(c.from)} → ${str(c.to)}${c.extension ? ` (${str(c.extension)})` : ""}, since ${str(c.since)}`);
    const media = obj(c.media);
    if (media.a !== undefined || media.b !== undefined) {
      out.push(sideLine("caller", media.a));
      out.push(sideLine("callee", media.b));
    }
  }
  const m = obj(st.media);
  if (m.sessions !== undefined) out.push(`media sessions: ${str(m.sessions)}`);
  if (st.voicemail !== undefined) {
    const vm = obj(st.voicemail);
    out.push(`voicemail: ${str(vm.new)} new of ${str(vm.total)}`);
  }
  return out.join("\n") + "\n";
}
