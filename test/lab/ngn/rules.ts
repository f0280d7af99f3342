/**
 * What docs/ngn.md says the gateway's messages toward the NGN must look like, as checks over the
 * raw text the P-CSCF front received (`ngn.sipLog`, ev "rx"). Each check returns the list of
 * rules broken (empty = conforming), phrased so a failed test names the rule and quotes the
 * offending line. Pure functions: the emulator's self-test proves each rule fires.
 */

/** A SIP message split the RFC 3261 §7 way: start line, headers (unfolded, long names), body. */
export interface SipText {
  first: string;
  /** [lowercase long name, value] in order, one entry per header line. */
  headers: [string, string][];
  body: string;
}

// RFC 3261 §7.3.3 compact forms (and RFC 4028's "x" for Session-Expires).
const COMPACT: Record<string, string> = { i: "call-id", m: "contact", l: "content-length", c: "content-type", f: "from", k: "supported", t: "to", v: "via", x: "session-expires", e: "content-encoding" };

export function parseSip(text: string): SipText {
  const norm = text.replace(/\r\n/g, "\n");
  const sep = norm.indexOf("\n\n");
  const head = sep < 0 ? norm : norm.slice(0, sep);
  const body = sep < 0 ? "" : norm.slice(sep + 2);
  // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header.
  const lines = head.replace(/\n[ \t]+/g, " ").split("\n");
  const first = lines.shift() ?? "";
  const headers: [string, string][] = [];
  for (const l of lines) {
    const c = l.indexOf(":");
    if (c <= 0) continue;
    const name = l.slice(0, c).trim().toLowerCase();
    headers.push([COMPACT[name] ?? name, l.slice(c + 1).trim()]);
  }
  return { first, headers, body };
}

const all = (m: SipText, name: string) => m.headers.filter(([n]) => n === name).map(([, v]) => v);
const one = (m: SipText, name: string) => all(m, name)[0];

/** The line as the emulator hands it out. */
export interface LineFacts {
  /** The gateway's WAN address (the lease). */
  lease: string;
  domain: string;
  /** Main number first, then the additional ones. */
  numbers: readonly string[];
}

interface UriParts {
  scheme: string;
  user: string;
  host: string;
  port?: number;
  params: string;
}

/** The first URI of a name-addr or addr-spec header value. */
export function uriOf(value: string): UriParts | undefined {
  const inner = /<([^>]*)>/.exec(value)?.[1] ?? value.split(";")[0] ?? "";
  const m = /^(sips?|tel):(?:([^@;]*)@)?([^:;>]+)(?::(\d+))?(;.*)?$/i.exec(inner.trim());
  if (!m) return undefined;
  if (m[1]!.toLowerCase() === "tel") return { scheme: "tel", user: m[3]!, host: "", params: m[5] ?? "" };
  return { scheme: m[1]!.toLowerCase(), user: m[2] ?? "", host: m[3]!.toLowerCase(), port: m[4] ? Number(m[4]) : undefined, params: m[5] ?? "" };
}

/** docs/ngn.md "Registration": Contact `<sip:…@<lease>:5060>`, no `transport=` (RFC 3261 §19.1.1 default port 5060). */
export function contactProblems(m: SipText, lease: string): string[] {
  const contacts = all(m, "contact");
  if (contacts.length !== 1) return [`exactly one Contact wanted, got ${contacts.length}: ${JSON.stringify(contacts)}`];
  const c = contacts[0]!;
  const u = uriOf(c);
  const out: string[] = [];
  if (!u || u.scheme !== "sip") return [`Contact is no sip: URI: ${c}`];
  if (u.host !== lease || (u.port ?? 5060) !== 5060) out.push(`Contact must be the lease address :5060, got ${c}`);
  if (/transport=/i.test(c)) out.push(`Contact must carry no transport= parameter: ${c}`);
  return out;
}

/**
 * docs/ngn.md "Media": PCMU (0) + telephone-event (101) only, ptime 20, an even port, the lease in
 * o= and one session-level c= only (RFC 4566 §5.7: a media-level c= beside it got 500).
 */
export function sdpProblems(body: string, lease: string): string[] {
  const lines = body.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length === 0) return ["no SDP body"];
  const out: string[] = [];
  const o = lines.find((l) => l.startsWith("o="));
  if (!o || o.split(" ")[5] !== lease || o.split(" ")[4] !== "IP4") out.push(`o= must carry the lease address ${lease}: ${o ?? "(none)"}`);
  const firstM = lines.findIndex((l) => l.startsWith("m="));
  const cs = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith("c="));
  if (cs.length !== 1) out.push(`exactly one c= wanted, got ${cs.length}: ${JSON.stringify(cs.map(([l]) => l))}`);
  else if (firstM >= 0 && cs[0]![1] > firstM) out.push(`the c= must be session-level (before m=): ${cs[0]![0]}`);
  else if (cs[0]![0] !== `c=IN IP4 ${lease}`) out.push(`c= must be the lease address: ${cs[0]![0]}`);
  const ms = lines.filter((l) => l.startsWith("m="));
  if (ms.length !== 1) out.push(`exactly one m= wanted, got ${JSON.stringify(ms)}`);
  const mm = /^m=audio (\d+) RTP\/AVP ((?:\d+ ?)+)$/.exec(ms[0] ?? "");
  if (!mm) out.push(`m= is not RTP/AVP audio: ${ms[0] ?? "(none)"}`);
  else {
    if (Number(mm[1]) % 2 !== 0) out.push(`RTP port must be even: ${ms[0]}`);
    const pts = mm[2]!.trim().split(" ").sort();
    if (pts.join(" ") !== "0 101") out.push(`payload types must be exactly PCMU 0 + telephone-event 101: ${ms[0]}`);
  }
  const rtpmaps = lines.filter((l) => l.startsWith("a=rtpmap:"));
  for (const r of rtpmaps) if (!/^a=rtpmap:(0 PCMU\/8000|101 telephone-event\/8000)$/i.test(r)) out.push(`unexpected ${r}`);
  if (!rtpmaps.some((r) => /^a=rtpmap:101 telephone-event\/8000$/i.test(r))) out.push("no a=rtpmap:101 telephone-event/8000");
  const ptimes = lines.filter((l) => l.startsWith("a=ptime:"));
  if (ptimes.length !== 1 || ptimes[0] !== "a=ptime:20") out.push(`exactly one a=ptime:20 wanted, got ${JSON.stringify(ptimes)}`);
  return out;
}

/** docs/ngn.md "Outbound calls": the gateway's initial INVITE to the P-CSCF. */
export function outboundInviteProblems(text: string, line: LineFacts): string[] {
  const m = parseSip(text);
  const out: string[] = [];
  const from = one(m, "from") ?? "";
  const fu = uriOf(from);
  if (!fu || fu.scheme !== "sip" || !line.numbers.includes(fu.user) || fu.host !== line.domain.toLowerCase() || fu.port !== undefined || fu.params !== "")
    out.push(`From must be <sip:<line number>@${line.domain}>: ${from}`);
  // docs/ngn.md "Outbound calls": P-Preferred-Identity only to choose among the line's own numbers (RFC 3325 §9.2).
  for (const ppi of all(m, "p-preferred-identity"))
    for (const v of ppi.split(",")) {
      const u = uriOf(v.trim());
      if (!u || !line.numbers.includes(u.user.replace(/^\+81/, "0"))) out.push(`P-Preferred-Identity names no number of the line: ${ppi}`);
    }
  if (all(m, "p-asserted-identity").length > 0) out.push(`no P-Asserted-Identity from the gateway: ${all(m, "p-asserted-identity").join(" | ")}`);
  out.push(...contactProblems(m, line.lease));
  const supported = all(m, "supported").join(",").toLowerCase().split(",").map((s) => s.trim());
  for (const opt of ["100rel", "timer"]) if (!supported.includes(opt)) out.push(`Supported must list ${opt}: ${JSON.stringify(all(m, "supported"))}`);
  const se = all(m, "session-expires");
  if (se.length !== 1 || !/^\d+/.test(se[0]!)) out.push(`one Session-Expires wanted (RFC 4028 §7.1), got ${JSON.stringify(se)}`);
  const allow = all(m, "allow");
  if (allow.length !== 1) out.push(`exactly one Allow header wanted, got ${allow.length}: ${JSON.stringify(allow)}`);
  out.push(...sdpProblems(m.body, line.lease));
  return out;
}

/**
 * What one Allow must list beside the exact count docs/ngn.md's capture shows: PRACK when the
 * message says `Supported: 100rel` (RFC 3262 §3: a UA that does 100rel answers PRACK), and
 * UPDATE, since docs/ngn.md says the NGN refreshes with UPDATE (RFC 3311 §5.1).
 */
export function allowProblems(text: string): string[] {
  const m = parseSip(text);
  const methods = all(m, "allow").join(",").toUpperCase().split(",").map((s) => s.trim());
  const out: string[] = [];
  const supported = all(m, "supported").join(",").toLowerCase();
  if (/\b100rel\b/.test(supported) && !methods.includes("PRACK")) out.push(`Supported: 100rel but Allow lacks PRACK: ${all(m, "allow").join(" | ")}`);
  if (!methods.includes("UPDATE")) out.push(`Allow lacks UPDATE: ${all(m, "allow").join(" | ")}`);
  return out;
}

/**
 * docs/ngn.md "Inbound calls": the gateway's 2xx to the NGN's INVITE (or to its refresh): Contact
 * lease:5060, Session-Expires echoed with `Require: timer` (RFC 4028 §9), SDP as above.
 */
export function answerProblems(text: string, lease: string, o: { sdp: boolean } = { sdp: true }): string[] {
  const m = parseSip(text);
  const out: string[] = [];
  if (!/^SIP\/2\.0 2\d\d /.test(m.first)) out.push(`not a 2xx: ${m.first}`);
  out.push(...contactProblems(m, lease));
  const se = all(m, "session-expires");
  if (se.length !== 1 || !/^\d+/.test(se[0]!)) out.push(`Session-Expires must be echoed, got ${JSON.stringify(se)}`);
  const require = all(m, "require").join(",").toLowerCase().split(",").map((s) => s.trim());
  if (!require.includes("timer")) out.push(`Require: timer wanted, got ${JSON.stringify(all(m, "require"))}`);
  if (o.sdp) out.push(...sdpProblems(m.body, lease));
  return out;
}

/** docs/ngn.md "Registration": Request-URI the domain, Expires 3600 (unless unregistering), Contact. */
export function registerProblems(text: string, line: LineFacts): string[] {
  const m = parseSip(text);
  const out: string[] = [];
  if (m.first !== `REGISTER sip:${line.domain} SIP/2.0`) out.push(`Request-URI must be sip:${line.domain}: ${m.first}`);
  out.push(...contactProblems(m, line.lease));
  const param = /;\s*expires=(\d+)/i.exec(one(m, "contact") ?? "")?.[1];
  const header = one(m, "expires");
  const expires = param ?? header;
  if (expires !== "3600") out.push(`Expires 3600 wanted, got header ${header ?? "(none)"}, Contact param ${param ?? "(none)"}`);
  if (/;\s*rport\b/i.test(one(m, "via") ?? "")) out.push(`rport in Via: ${one(m, "via")}`);
  return out;
}

/** Methods the gateway may send the NGN (docs/ngn.md "Registration": never OPTIONS; REGISTER refreshes are the keep-alive). */
export const ALLOWED_METHODS = ["REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "PRACK", "UPDATE"] as const;

/** The o= line's session id, version and address (RFC 4566 §5.2), to compare answers of one dialog. */
export function sdpOrigin(body: string): { id: string; version: number; addr: string } | undefined {
  const o = /^o=\S+ (\S+) (\d+) IN IP4 (\S+)/m.exec(body);
  return o ? { id: o[1]!, version: Number(o[2]), addr: o[3]! } : undefined;
}
