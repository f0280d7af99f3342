/**
 * Character classes and small scanners shared by the message, header and URI parsers
 * (RFC 3261 §25.1). Everything works on JS strings by char code with lookup tables, so the
 * hot path (a REGISTER every few hundred microseconds) never builds a RegExp match object.
 */
import { SipParseError } from "./types.js";

function table(chars: string, alnum = true): Uint8Array {
  const t = new Uint8Array(128);
  if (alnum) {
    for (let c = 48; c <= 57; c++) t[c] = 1;
    for (let c = 65; c <= 90; c++) t[c] = 1;
    for (let c = 97; c <= 122; c++) t[c] = 1;
  }
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") (§25.1). */
export const TOKEN = table("-.!%*_+`'~");
/** unreserved = alphanum / mark (§25.1). */
export const UNRESERVED = table("-_.!~*'()");
/** user = unreserved / escaped / user-unreserved (§25.1); '#' tolerated: phones send `*31#` raw. */
export const USER = table("-_.!~*'()&=+$,;?/#");
/** password = unreserved / escaped / "&" / "=" / "+" / "$" / "," */
export const PASSWORD = table("-_.!~*'()&=+$,");
/** paramchar = param-unreserved / unreserved / escaped; param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$" */
export const PARAMCHAR = table("-_.!~*'()[]/:&+$");
/** hname/hvalue chars: hnv-unreserved / unreserved / escaped; hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$" */
export const HNV = table("-_.!~*'()[]/?:+$");
/** Hostname characters; '_' tolerated (seen in real deployments' internal names). */
export const HOST = table("-._");
/** Header parameter values: token / host (IPv6 with ':' and brackets) (§25.1 gen-value). */
export const GENVALUE = table("-.!%*_+`'~:[]");
/** tel: number characters (RFC 3966 §3: phonedigit-hex and visual separators). */
export const TELCHAR = table("+-.()*#");

export function isIn(t: Uint8Array, code: number): boolean {
  return code < 128 && t[code] === 1;
}

/** True when every char of s is in t (and s is non-empty). */
export function allIn(t: Uint8Array, s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || t[c] !== 1) return false;
  }
  return true;
}

/** Like allIn, but also accepts `%HH` escapes (§25.1 escaped). */
export function allInEscaped(t: Uint8Array, s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      if (i + 2 >= s.length || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
      i += 2;
    } else if (c >= 128 || t[c] !== 1) return false;
  }
  return true;
}

export function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

export function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Undo `%HH` escapes (§19.1.2). The octets are read as UTF-8 when they form valid UTF-8,
 * else as Latin-1, so every escaped byte (even %00, RFC 4475 escnull) survives a round trip.
 * Callers validate the escapes first (allInEscaped).
 */
export function unescape(s: string): string {
  if (s.indexOf("%") < 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 128) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i]!, "utf8")) bytes.push(b);
    }
  }
  const buf = Buffer.from(bytes);
  try {
    return fatalUtf8.decode(buf);
  } catch {
    return buf.toString("latin1");
  }
}

const HEXD = "0123456789ABCDEF";

/** Escape every char outside `t` as %HH of its UTF-8 octets (§19.1.2). */
export function escape(t: Uint8Array, s: string): string {
  let ok = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || t[c] !== 1) {
      ok = false;
      break;
    }
  }
  if (ok) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c < 128 && t[c] === 1) out += ch;
    else for (const b of Buffer.from(ch, "utf8")) out += "%" + HEXD[b >> 4] + HEXD[b & 15];
  }
  return out;
}

/** A 400 from a header-level parser: a server answers a malformed request with 400 (§21.4.1). */
export function bad(what: string): SipParseError {
  return new SipParseError(what, 400);
}

/** Skip SP/HTAB (and CR/LF left by folding) from i; returns the new index. */
export function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Read a quoted-string starting at s[i] === '"' (§25.1: quoted-pair allowed inside).
 * Returns the unescaped content and the index after the closing quote; throws on no close.
 */
export function readQuoted(s: string, i: number): { text: string; end: number } {
  let text = "";
  let j = i + 1;
  let from = j;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 92 /* \ */) {
      if (j + 1 >= s.length) break;
      text += s.slice(from, j) + s[j + 1];
      j += 2;
      from = j;
      continue;
    }
    if (c === 34 /* " */) return { text: text + s.slice(from, j), end: j + 1 };
    j++;
  }
  throw bad("unterminated quoted string");
}

/** Quote a string for a quoted-string, escaping `"` and `\` (§25.1 quoted-pair). */
export function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"' || ch === "\\") out += "\\";
    out += ch;
  }
  return out + '"';
}

/**
 * Trim SP and HTAB only. String.prototype.trim also eats Unicode spaces and U+FEFF, which
 * are content in a UTF-8 header value (RFC 4475 intmeth starts a value with U+FEFF).
 */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
