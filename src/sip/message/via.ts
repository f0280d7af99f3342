/**
 * One Via value (RFC 3261 §20.42, §25.1 via-parm):
 *   `SIP / 2.0 / UDP host[:port] *( SEMI via-params )`
 * SLASH, COLON and SEMI allow whitespace around them (RFC 4475 wsinv folds a Via over
 * three lines). rport without a value (RFC 3581 §3) is kept as a flag (`null`).
 */
import type { Via } from "./types.js";
import { HOST, TOKEN, bad, isIn, skipWs } from "./scan.js";
import { formatParams, scanParams } from "./params.js";
import { isIpv6 } from "./uri.js";
import { isIPv4 } from "node:net";

export function parseVia(value: string): Via {
  const s = value;
  const n = s.length;
  let i = skipWs(s, 0);
  const parts: string[] = [];
  for (let k = 0; k < 3; k++) {
    if (k > 0) {
      if (i >= n || s.charCodeAt(i) !== 47 /* / */) throw bad("bad Via sent-protocol");
      i = skipWs(s, i + 1);
    }
    const start = i;
    while (i < n && isIn(TOKEN, s.charCodeAt(i))) i++;
    if (i === start) throw bad("bad Via sent-protocol");
    parts.push(s.slice(start, i));
    const before = i;
    i = skipWs(s, i);
    if (k === 2 && i === before) throw bad("no space after Via transport");
  }
  if (parts[0]!.toUpperCase() !== "SIP" || parts[1] !== "2.0") throw bad("Via is not SIP/2.0");
  let host: string;
  if (i < n && s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf("]", i);
    if (close < 0 || !isIpv6(s.slice(i + 1, close))) throw bad("bad Via IPv6 host");
    host = s.slice(i, close + 1);
    i = close + 1;
  } else {
    const start = i;
    while (i < n && isIn(HOST, s.charCodeAt(i))) i++;
    host = s.slice(start, i);
    if (host.length === 0 || host.charCodeAt(0) === 46) throw bad("bad Via host");
  }
  const via: Via = { transport: parts[2]!.toUpperCase(), host, params: new Map() };
  i = skipWs(s, i);
  if (i < n && s.charCodeAt(i) === 58 /* : */) {
    i = skipWs(s, i + 1);
    const start = i;
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    const p = s.slice(start, i);
    // §18.2.2 sends responses to this port: 0 is no port at all (a send to it throws).
    if (p.length === 0 || p.length > 5 || !validPort(Number(p))) throw bad("bad Via port");
    via.port = Number(p);
  }
  const r = scanParams(s, i);
  if (r.end !== n) throw bad("trailing data in Via");
  via.params = r.params;
  const ttl = r.params.get("ttl");
  if (ttl !== undefined && (ttl === null || !/^\d{1,3}$/.test(ttl) || Number(ttl) > 255)) throw bad("bad Via ttl");
  const rport = r.params.get("rport");
  if (rport !== undefined && rport !== null && (!/^\d{1,5}$/.test(rport) || !validPort(Number(rport)))) throw bad("bad Via rport");
  // §20.42: received is an IP address; a name there would send responses through DNS.
  const received = r.params.get("received");
  if (received !== undefined && (received === null || !isIpAddress(received))) throw bad("bad Via received");
  return via;
}

/** A UDP port a response can go to (1–65535). */
export function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function isIpAddress(s: string): boolean {
  const v6 = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  return isIPv4(s) || isIpv6(v6);
}

export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${via.host}${via.port !== undefined ? ":" + via.port : ""}${formatParams(via.params)}`;
}
