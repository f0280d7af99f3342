/**
 * Header parameters: `*( SEMI generic-param )` with `generic-param = token [ EQUAL gen-value ]`
 * and `gen-value = token / host / quoted-string` (RFC 3261 §25.1). SEMI and EQUAL allow
 * whitespace around them (`; tag = 98asjd8`, RFC 4475 wsinv). Names are lowercased (§7.3.1:
 * parameter names are case-insensitive); a quoted value is kept with its quotes so a
 * forwarded or re-serialised header says exactly what it said.
 */
import type { Params } from "./types.js";
import { GENVALUE, TOKEN, bad, isIn, isWs, readQuoted, skipWs } from "./scan.js";

export interface ParamsScan {
  params: Params;
  /** Index of the first char not consumed (a ',' or end of string, after whitespace). */
  end: number;
}

/**
 * Reads parameters starting at s[i] (which must be ';', whitespace or the end). Stops at
 * end of string or at a top-level ',' (next list element); anything else is a 400.
 */
export function scanParams(s: string, i: number): ParamsScan {
  const params: Params = new Map();
  const n = s.length;
  i = skipWs(s, i);
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 44 /* , */) break;
    if (c !== 59 /* ; */) throw bad(`unexpected '${s[i]}' in parameters`);
    i = skipWs(s, i + 1);
    const nameStart = i;
    while (i < n && isIn(TOKEN, s.charCodeAt(i))) i++;
    if (i === nameStart) throw bad("empty parameter name");
    const name = s.slice(nameStart, i).toLowerCase();
    i = skipWs(s, i);
    let value: string | null = null;
    if (i < n && s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1);
      if (i < n && s.charCodeAt(i) === 34 /* " */) {
        const q = readQuoted(s, i);
        value = s.slice(i, q.end);
        i = q.end;
      } else {
        const vStart = i;
        while (i < n && isIn(GENVALUE, s.charCodeAt(i))) i++;
        if (i === vStart) throw bad(`empty value for parameter ${name}`);
        value = s.slice(vStart, i);
      }
      i = skipWs(s, i);
    }
    params.set(name, value);
  }
  return { params, end: i };
}

/** Parses `;a=b;c` (the leading ';' optional); the whole string must be parameters. */
export function parseParams(value: string): Params {
  let s = value;
  const first = skipWs(s, 0);
  if (first < s.length && s.charCodeAt(first) !== 59) s = ";" + s.slice(first);
  const r = scanParams(s, 0);
  if (r.end !== s.length) throw bad("trailing data after parameters");
  return r.params;
}

/** `;name=value;flag` in map order. */
export function formatParams(params: Params): string {
  let out = "";
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}

/** Strips the quotes of a quoted parameter value (kept quoted by scanParams). */
export function unquoteParam(v: string | null | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (v.length >= 2 && v.charCodeAt(0) === 34) return readQuoted(v, 0).text;
  return v;
}

export function hasWs(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isWs(s.charCodeAt(i))) return true;
  return false;
}
