/**
 * name-addr / addr-spec values of From, To, Contact, Route, Record-Route, Refer-To,
 * P-Asserted-Identity… (RFC 3261 §20.10, §25.1):
 *   `"Display" <uri>;params`, `Display Tokens <uri>;params` or `uri;params`.
 * In the addr-spec form a ';' starts the header parameters, so a URI carrying ',', '?'
 * or ';' must be in angle brackets (§20.10; RFC 4475 §3.1.2.13 regbadct, cparam01).
 */
import type { NameAddr } from "./types.js";
import { TOKEN, bad, isIn, isWs, quote, readQuoted, skipWs } from "./scan.js";
import { formatParams, hasWs, scanParams } from "./params.js";
import { formatUri, parseUri } from "./uri.js";

/** Parses one name-addr or addr-spec with its header parameters (one list element). */
export function parseNameAddr(value: string): NameAddr {
  const s = value;
  const n = s.length;
  let i = skipWs(s, 0);
  if (i >= n) throw bad("empty address");
  let displayName: string | undefined;
  let angled = false;
  if (s.charCodeAt(i) === 34 /* " */) {
    const q = readQuoted(s, i);
    displayName = q.text;
    i = skipWs(s, q.end);
    if (i >= n || s.charCodeAt(i) !== 60 /* < */) throw bad("quoted display name without <uri>");
    angled = true;
  } else {
    // display-name = *(token LWS): tokens and whitespace up to '<' (RFC 4475 lwsdisp, intmeth).
    let j = i;
    while (j < n && (isIn(TOKEN, s.charCodeAt(j)) || isWs(s.charCodeAt(j)))) j++;
    if (j < n && s.charCodeAt(j) === 60) {
      const dn = s.slice(i, j).trim();
      if (dn.length > 0) displayName = dn;
      i = j;
      angled = true;
    }
  }
  if (angled) {
    const close = s.indexOf(">", i + 1);
    if (close < 0) throw bad("missing '>'");
    const inner = s.slice(i + 1, close);
    // LAQUOT/RAQUOT allow no whitespace inside the brackets (RFC 4475 §3.1.2.14 badaspec).
    if (hasWs(inner)) throw bad("whitespace inside <uri>");
    const uri = parseUri(inner);
    const p = scanParams(s, close + 1);
    if (p.end !== n) throw bad("trailing data after address");
    return displayName === undefined ? { uri, params: p.params } : { displayName, uri, params: p.params };
  }
  let j = i;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c === 59 || isWs(c) || c === 44) break;
    j++;
  }
  const text = s.slice(i, j);
  if (text.indexOf("?") >= 0) throw bad("addr-spec with URI headers must use <>");
  const uri = parseUri(text);
  const p = scanParams(s, j);
  if (p.end !== n) throw bad("trailing data after address");
  return { uri, params: p.params };
}

/** Always writes the `<uri>` form: it is valid for every URI (§20.10). */
export function formatNameAddr(na: NameAddr): string {
  const dn = na.displayName !== undefined && na.displayName.length > 0 ? quote(na.displayName) + " " : "";
  return dn + "<" + formatUri(na.uri) + ">" + formatParams(na.params);
}

/**
 * The tag parameter of a From or To value (§19.3), or "" when it has none: the stack's one
 * tag reader. Only what follows the closing '>' counts, so a `tag=` inside the URI of
 * `<sip:a@b;tag=x>` (a URI parameter, not the header's) is never taken for it; a bare
 * addr-spec has no '>' and its parameters are the header's (§20.10).
 */
export function tagOf(value: string | undefined): string {
  if (!value) return "";
  const gt = value.lastIndexOf(">");
  const m = /;\s*tag\s*=\s*([^;,\s]+)/i.exec(gt >= 0 ? value.slice(gt) : value);
  return m ? m[1]! : "";
}
