/**
 * Header access over a message (names in any form: `Call-ID`, `call-id`, `i`) and typed
 * accessors for the headers every layer reads. Values stay raw in the message; structured
 * views are parsed on demand. Accessors for mandatory headers throw a SipParseError with
 * status 400 when the header is missing or malformed (§8.2.2: a UAS answers 400).
 */
import type { CSeq, Header, NameAddr, SipMessage, Via } from "./types.js";
import { SipParseError } from "./types.js";
import { LIST_HEADERS, headerKey } from "./header-names.js";
import { TOKEN, allIn, bad, isDigits, isWs, trimWs } from "./scan.js";
import { parseNameAddr } from "./name-addr.js";
import { parseVia } from "./via.js";

export { parseNameAddr, formatNameAddr, tagOf } from "./name-addr.js";
export { parseVia, formatVia, validPort } from "./via.js";
export { parseParams, formatParams } from "./params.js";
export { parseAuthParams, formatAuthParams, type AuthParams } from "./auth-params.js";
export { headerKey, wireName } from "./header-names.js";

/** First raw value of a header, or undefined. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  const key = headerKey(name);
  const hs = msg.headers;
  for (let i = 0; i < hs.length; i++) if (hs[i]!.name === key) return hs[i]!.value;
  return undefined;
}

/**
 * All values of a header in order. For list headers (§7.3.1: Via, Contact, Route, …) a
 * line holding `a, b` gives two values; commas inside quotes or `<…>` do not split, and
 * empty elements are dropped. Other headers give one value per line.
 */
export function getHeaders(msg: SipMessage, name: string): string[] {
  const key = headerKey(name);
  const out: string[] = [];
  const split = LIST_HEADERS.has(key);
  for (const h of msg.headers) {
    if (h.name !== key) continue;
    if (split && h.value.indexOf(",") >= 0) splitList(h.value, out);
    else out.push(h.value);
  }
  return out;
}

/** Splits a list value on top-level commas (outside quoted strings and angle brackets). */
export function splitList(value: string, out: string[] = []): string[] {
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 92) i++;
      else if (c === 34) inQuote = false;
    } else if (c === 34) inQuote = true;
    else if (c === 60) inAngle = true;
    else if (c === 62) inAngle = false;
    else if (c === 44 && !inAngle) {
      const part = trimWs(value.slice(start, i));
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = trimWs(value.slice(start));
  if (last) out.push(last);
  return out;
}

/** Replaces every occurrence with one header at the first one's place (appends if absent). */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  const key = headerKey(name);
  const idx = msg.headers.findIndex((h) => h.name === key);
  if (idx < 0) {
    msg.headers.push({ name: key, value });
    return;
  }
  msg.headers[idx] = { name: key, value };
  msg.headers = msg.headers.filter((h, i) => i <= idx || h.name !== key);
}

export function addHeader(msg: SipMessage, name: string, value: string): void {
  msg.headers.push({ name: headerKey(name), value });
}

/**
 * Inserts above the first header of that name (a new top Via §18.1.1, a Record-Route
 * §16.6), or at the very top when there is none yet.
 */
export function prependHeader(msg: SipMessage, name: string, value: string): void {
  const key = headerKey(name);
  const idx = msg.headers.findIndex((h) => h.name === key);
  msg.headers.splice(idx < 0 ? 0 : idx, 0, { name: key, value });
}

/** Removes every occurrence; returns how many were removed. */
export function removeHeader(msg: SipMessage, name: string): number {
  const key = headerKey(name);
  const before = msg.headers.length;
  msg.headers = msg.headers.filter((h) => h.name !== key);
  return before - msg.headers.length;
}

/** Removes the first value of a list header (the top Via when a response goes upstream, §18.1.2). */
export function removeFirstValue(msg: SipMessage, name: string): void {
  const key = headerKey(name);
  const idx = msg.headers.findIndex((h) => h.name === key);
  if (idx < 0) return;
  const vals = splitList(msg.headers[idx]!.value);
  if (vals.length <= 1) msg.headers.splice(idx, 1);
  else msg.headers[idx] = { name: key, value: vals.slice(1).join(", ") };
}

function required(msg: SipMessage, name: string): string {
  const v = getHeader(msg, name);
  if (v === undefined) throw new SipParseError(`missing ${name}`, 400);
  return v;
}

/** `CSeq: 1*DIGIT LWS Method` (§20.16); the number must fit 32 bits (§8.1.1.5, RFC 4475 scalar02). */
export function parseCSeq(value: string): CSeq {
  const s = value.trim();
  let i = 0;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i === 0 || i >= s.length || !isWs(s.charCodeAt(i))) throw bad("bad CSeq");
  const num = s.slice(0, i);
  const method = s.slice(i).trim();
  if (!allIn(TOKEN, method)) throw bad("bad CSeq method");
  const seq = Number(num);
  if (num.length > 10 || seq > 0xffffffff) throw bad("CSeq number too large");
  return { seq, method };
}

export function topVia(msg: SipMessage): Via {
  const v = getHeader(msg, "via");
  if (v === undefined) throw new SipParseError("missing Via", 400);
  const comma = v.indexOf(",");
  return parseVia(comma < 0 ? v : splitList(v)[0] ?? "");
}

export function allVias(msg: SipMessage): Via[] {
  return getHeaders(msg, "via").map(parseVia);
}

export function callId(msg: SipMessage): string {
  const v = required(msg, "call-id");
  if (v.length === 0) throw bad("empty Call-ID");
  return v;
}

export function cseq(msg: SipMessage): CSeq {
  return parseCSeq(required(msg, "cseq"));
}

export function fromAddr(msg: SipMessage): NameAddr {
  return parseNameAddr(required(msg, "from"));
}

export function toAddr(msg: SipMessage): NameAddr {
  return parseNameAddr(required(msg, "to"));
}

/** Contact values; `*` (only valid alone, in REGISTER, §10.2.2) is returned as "*". */
export function contacts(msg: SipMessage): (NameAddr | "*")[] {
  return getHeaders(msg, "contact").map((v) => (v === "*" ? "*" : parseNameAddr(v)));
}

/** Max-Forwards (§20.22: 0–255), or undefined when absent. */
export function maxForwards(msg: SipMessage): number | undefined {
  const v = getHeader(msg, "max-forwards");
  if (v === undefined) return undefined;
  // Leading zeros are legal (1*DIGIT; RFC 4475 wsinv sends 0068).
  if (!isDigits(v) || v.length > 10 || Number(v) > 255) throw bad("bad Max-Forwards");
  return Number(v);
}

/**
 * Expires (§20.19: delta-seconds), or undefined when absent. Values beyond 2^32-1 are
 * clamped to it (RFC 4475 §3.1.2.4 lets an element treat overlarge expiries leniently;
 * the registrar caps to its own maximum anyway).
 */
export function expiresHeader(msg: SipMessage): number | undefined {
  const v = getHeader(msg, "expires");
  if (v === undefined) return undefined;
  return parseDeltaSeconds(v);
}

export function parseDeltaSeconds(v: string): number {
  if (!isDigits(v)) throw bad("bad delta-seconds");
  return v.length > 10 ? 0xffffffff : Math.min(Number(v), 0xffffffff);
}

export type { Header };
