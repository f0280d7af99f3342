/**
 * Reads SIPp's message trace (`-trace_msg -message_file F`) into SIP messages, so a lab test
 * asserts on what was really on the wire (headers, Call-IDs, Max-Forwards...), not on exit codes.
 * SIPp writes each message as:
 *   ----------------------------------------------- 2026-01-01 12:00:00.000000
 *   UDP message sent (317 bytes):            | UDP message received [392] bytes :
 *   <blank line>
 *   <the message as sent or received>
 */
import { readFileSync, existsSync } from "node:fs";

export interface TracedMessage {
  dir: "sent" | "received";
  /** seconds since the epoch, from SIPp's timestamp (local time of this machine) */
  at: number;
  startLine: string;
  /** request method, or undefined for a response */
  method?: string;
  /** response status code, or undefined for a request */
  status?: number;
  /** CSeq method (for responses: which request this answers) */
  cseqMethod: string;
  /** header values by lowercase name, each occurrence (comma lists are not split) */
  headers: Map<string, string[]>;
  body: string;
  raw: string;
}

const SEPARATOR = /^-{20,} (\d{4}-\d\d-\d\d)[ \t](\d\d:\d\d:\d\d(?:\.\d+)?)$/m;
// RFC 3261 §7.3.3 compact forms SIPp or a peer may use.
const COMPACT: Record<string, string> = { i: "call-id", m: "contact", f: "from", t: "to", v: "via", l: "content-length", c: "content-type", k: "supported" };

export function parseTrace(text: string): TracedMessage[] {
  const out: TracedMessage[] = [];
  const parts = text.split(/^(?=-{20,} \d{4}-)/m);
  for (const part of parts) {
    const sep = SEPARATOR.exec(part);
    if (!sep) continue;
    const afterSep = part.slice(part.indexOf("\n") + 1);
    const kindLine = afterSep.slice(0, afterSep.indexOf("\n"));
    const dir = /message sent/.test(kindLine) ? "sent" : /message received/.test(kindLine) ? "received" : null;
    if (!dir) continue;
    const raw = afterSep.slice(kindLine.length + 1).replace(/^\r?\n/, "");
    const msg = parseMessage(raw);
    if (!msg) continue;
    out.push({ dir, at: Date.parse(`${sep[1]}T${sep[2]!.slice(0, 12)}`) / 1000, ...msg, raw });
  }
  return out;
}

function parseMessage(raw: string): Omit<TracedMessage, "dir" | "at" | "raw"> | null {
  const norm = raw.replace(/\r\n/g, "\n");
  const blank = norm.indexOf("\n\n");
  const head = blank >= 0 ? norm.slice(0, blank) : norm;
  const body = blank >= 0 ? norm.slice(blank + 2).replace(/\n+$/, "") : "";
  const lines = head.split("\n");
  const startLine = lines.shift()?.trim() ?? "";
  if (!startLine) return null;
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    let name = line.slice(0, i).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const list = headers.get(name) ?? [];
    list.push(line.slice(i + 1).trim());
    headers.set(name, list);
  }
  const resp = /^SIP\/2\.0 (\d{3})/.exec(startLine);
  const cseq = headers.get("cseq")?.[0] ?? "";
  return {
    startLine,
    method: resp ? undefined : startLine.split(" ")[0],
    status: resp ? Number(resp[1]) : undefined,
    cseqMethod: cseq.split(/\s+/)[1] ?? "",
    headers,
    body,
  };
}

export function readTrace(file: string): TracedMessage[] {
  return existsSync(file) ? parseTrace(readFileSync(file, "utf8")) : [];
}

/** First value of a header, or undefined. */
export function header(m: TracedMessage, name: string): string | undefined {
  return m.headers.get(name.toLowerCase())?.[0];
}

/** The `tag` parameter of a From/To value ("" without one): the gateway's own reader. */
export { tagOf } from "../../../src/sip/message/index.js";

/** The user part of the URI in a From/To/Contact value or a Request-URI. */
export function userOf(value: string | undefined): string | undefined {
  return value ? /sips?:([^@;>\s]+)@/i.exec(value)?.[1] : undefined;
}

/** A one-line-per-message summary for failure output: "sent INVITE sip:802@… / received 407 (INVITE)". */
export function summarize(msgs: TracedMessage[]): string {
  return msgs.map((m) => `${m.dir === "sent" ? "-->" : "<--"} ${m.status ? `${m.status} (${m.cseqMethod})` : m.startLine}  Call-ID ${header(m, "call-id") ?? "?"}`).join("\n");
}

/** Find messages by "INVITE" (request), 200 (any response), or {status, cseq}. */
export function find(msgs: TracedMessage[], dir: "sent" | "received", what: string | number | { status: number; cseq: string }): TracedMessage[] {
  return msgs.filter((m) => {
    if (m.dir !== dir) return false;
    if (typeof what === "string") return m.method === what;
    if (typeof what === "number") return m.status === what;
    return m.status === what.status && m.cseqMethod === what.cseq;
  });
}
