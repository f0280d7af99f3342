// The emulator's P-CSCF front: the one process that owns <pcscf>:5060, as the NGN's edge.
// Plain JS (runs with `node` inside the NGN namespace, no build step). Why not SIPp alone:
//  - SIPp has no variable for the source port of a received datagram, so "403 from a port
//    other than 5060" (docs/ngn.md, Registration) cannot be expressed in its XML;
//  - a registration client reuses its Call-ID for refreshes (RFC 3261 §10.2.4), and SIPp
//    treats a Call-ID it saw end as a dead call for -deadcall_wait, so refreshes would be eaten;
//  - one socket must serve every role at once (registrar, inbound and outbound calls), and one
//    SIPp runs one scenario.
// So this front is the strict registrar (REGISTER/OPTIONS) and a transparent relay: call
// signalling goes unchanged to SIPp scenarios bound to other ports of the same address
// ("backends"), which do the call-level strictness (URI parameters, codecs, odd ports).
//
// argv[2]: JSON {listen, port, domain, numbers, maxExpires, minExpires, uas, requireRegistration}
// stdin:   JSON lines of control: {"registrar":"up"|"down"|"503"} | {"uas":"ip:port"|null}
// stdout:  JSON lines: {ev:"ready"} {ev:"rx"|"tx",...} {ev:"binding",...} {ev:"control",...}
import dgram from "node:dgram";
import { createHash } from "node:crypto";
import readline from "node:readline";

const cfg = JSON.parse(process.argv[2] ?? "{}");
const listen = cfg.listen;
const port = cfg.port ?? 5060;
const domain = String(cfg.domain).toLowerCase();
const numbers = cfg.numbers ?? [];
const maxExpires = cfg.maxExpires ?? 3600;
const minExpires = cfg.minExpires ?? 60;
const requireRegistration = cfg.requireRegistration ?? true;
/** Requests a gateway may send the NGN (RFC 3261 core + PRACK RFC 3262 + UPDATE RFC 3311). */
const ALLOWED = ["REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "PRACK", "UPDATE"];
let uas = cfg.uas ?? null; // "ip:port" of the SIPp that accepts outbound calls
let registrarMode = "up";

/** aor -> { contact, host, port, expiresAt, source } */
const bindings = new Map();
/** Call-ID -> { backend: "ip:port", gw: "ip:port", at } for relayed dialogs */
const calls = new Map();

function out(obj) {
  process.stdout.write(JSON.stringify({ t: Date.now(), ...obj }) + "\n");
}

// RFC 3261 §7.3.3 compact forms, both ways.
const COMPACT = { i: "call-id", m: "contact", e: "content-encoding", l: "content-length", c: "content-type", f: "from", s: "subject", k: "supported", t: "to", v: "via", x: "session-expires", o: "event", r: "refer-to", b: "referred-by", u: "allow-events", a: "accept-contact", j: "reject-contact", d: "request-disposition", y: "identity" };

function parse(buf) {
  const text = buf.toString("utf8");
  const sep = text.indexOf("\r\n\r\n");
  const head = sep < 0 ? text : text.slice(0, sep);
  const body = sep < 0 ? "" : text.slice(sep + 4);
  // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header.
  const lines = head.replace(/\r\n[ \t]+/g, " ").split("\r\n");
  const first = lines.shift() ?? "";
  const headers = [];
  for (const l of lines) {
    const c = l.indexOf(":");
    if (c <= 0) return null;
    let name = l.slice(0, c).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    headers.push([name, l.slice(c + 1).trim()]);
  }
  const m = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(first);
  const r = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(first);
  if (!m && !r) return null;
  const get = (n) => headers.find(([k]) => k === n)?.[1];
  const all = (n) => headers.filter(([k]) => k === n).map(([, v]) => v);
  return { text, first, body, headers, get, all, method: m?.[1], uri: m?.[2], status: r ? Number(r[1]) : undefined, callId: get("call-id"), cseq: get("cseq") };
}

const sock = dgram.createSocket("udp4");
// A failed send (ICMP unreachable, no route) must never take the NGN down with it.
sock.on("error", (e) => out({ ev: "error", error: String(e) }));

function send(text, addr, portNo, side, note) {
  const p = parse(Buffer.from(text));
  sock.send(Buffer.from(text), portNo, addr);
  out({ ev: "tx", peer: `${addr}:${portNo}`, side, first: p?.first, method: p?.method, status: p?.status, callId: p?.callId, cseq: p?.cseq, note, text });
}

function toTag(callId) {
  return createHash("sha1").update(`ngn:${callId}`).digest("hex").slice(0, 12);
}

/** A response built from the request the RFC 3261 §8.2.6 way, with compact header names. */
function respond(req, rinfo, status, reason, extra = [], note) {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const v of req.all("via")) lines.push(`v: ${v}`);
  lines.push(`f: ${req.get("from")}`);
  const to = req.get("to") ?? "";
  lines.push(`t: ${/;\s*tag=/i.test(to) || status === 100 ? to : `${to};tag=${toTag(req.callId)}`}`);
  lines.push(`i: ${req.callId}`);
  lines.push(`CSeq: ${req.cseq}`);
  lines.push(...extra);
  lines.push("l: 0", "", "");
  send(lines.join("\r\n"), rinfo.address, rinfo.port, "gw", note ?? `${status}`);
}

function uriParts(uriText) {
  // <sip:user@host:port;params> or sip:user@host:port;params
  const inner = /<([^>]*)>/.exec(uriText)?.[1] ?? uriText.split(";")[0];
  const m = /^sips?:(?:([^@]*)@)?([^:;>]+)(?::(\d+))?(;.*)?$/i.exec(inner.trim());
  if (!m) return null;
  return { user: m[1] ?? "", host: m[2].toLowerCase(), port: m[3] ? Number(m[3]) : 5060, params: m[4] ?? "", uri: inner.trim() };
}

function topVia(req) {
  return (req.all("via")[0] ?? "").split(",")[0];
}

function onRegister(req, rinfo) {
  // A server that is down answers nothing (the client sees timeouts, then ICMP if killed).
  if (registrarMode === "down") return out({ ev: "drop", reason: "registrar down", callId: req.callId });
  // docs/ngn.md "Registration": replies go to 5060 whatever Via says; another source port got 403.
  if (rinfo.port !== 5060) return respond(req, rinfo, 403, "Forbidden", [], "403 source port");
  // docs/ngn.md "Registration": the Request-URI is the domain; using the IP (or anything else) got 400.
  if (req.uri.toLowerCase() !== `sip:${domain}`) return respond(req, rinfo, 400, "Bad Request", [], "400 request-uri");
  // docs/ngn.md "Registration": rport in Via (RFC 3581) made requests fail with 400.
  if (/;\s*rport\b/i.test(topVia(req))) return respond(req, rinfo, 400, "Bad Request", [], "400 rport");
  const to = uriParts(req.get("to") ?? "");
  const from = uriParts(req.get("from") ?? "");
  // A user that is not one of the line's numbers means the DHCP side was read wrong.
  if (!to || !numbers.includes(to.user) || to.host !== domain || !from || from.host !== domain) return respond(req, rinfo, 403, "Forbidden", [], "403 not this line");
  if (registrarMode === "503") return respond(req, rinfo, 503, "Service Unavailable", ["Retry-After: 5"], "503 registrar");
  const aor = `sip:${to.user}@${domain}`;
  const contactHdr = req.get("contact");
  if (!contactHdr) {
    const b = bindings.get(aor);
    const extra = b ? [`m: <${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - Date.now()) / 1000))}`] : [];
    return respond(req, rinfo, 200, "OK", extra, "200 fetch");
  }
  const contact = uriParts(contactHdr);
  if (!contact) return respond(req, rinfo, 400, "Bad Request", [], "400 contact");
  const cExp = /;\s*expires=(\d+)/i.exec(contactHdr)?.[1];
  const requested = Number(cExp ?? req.get("expires") ?? 3600);
  if (requested === 0 || contactHdr.trim() === "*") {
    bindings.delete(aor);
    out({ ev: "binding", aor, contact: null, expires: 0, source: `${rinfo.address}:${rinfo.port}` });
    return respond(req, rinfo, 200, "OK", ["Expires: 0"], "200 unregister");
  }
  // RFC 3261 §10.3 step 7: too brief an interval gets 423 with Min-Expires.
  if (requested < minExpires) return respond(req, rinfo, 423, "Interval Too Brief", [`Min-Expires: ${minExpires}`], "423");
  const granted = Math.min(requested, maxExpires);
  bindings.set(aor, { contact: contact.uri, host: contact.host, port: contact.port, expiresAt: Date.now() + granted * 1000, source: `${rinfo.address}:${rinfo.port}` });
  out({ ev: "binding", aor, contact: contact.uri, expires: granted, source: `${rinfo.address}:${rinfo.port}` });
  const assoc = numbers.map((n) => `<sip:${n}@${domain}>`).join(",");
  respond(req, rinfo, 200, "OK", [`m: <${contact.uri}>;expires=${granted}`, `Expires: ${granted}`, `P-Associated-URI: ${assoc}`, `Date: ${new Date().toUTCString()}`], "200 registered");
}

function registeredSource(addr) {
  const now = Date.now();
  for (const b of bindings.values()) if (b.expiresAt > now && b.host === addr) return true;
  return false;
}

function fromGateway(req, rinfo, buf) {
  if (req.method === "REGISTER") return onRegister(req, rinfo);
  // docs/ngn.md "Registration": nothing shows the NGN answers OPTIONS usefully; our background says 405.
  if (req.method === "OPTIONS") return respond(req, rinfo, 405, "Method Not Allowed", ["Allow: INVITE,ACK,BYE,CANCEL,PRACK,UPDATE,REGISTER"], "405 options");
  // docs/ngn.md "Outbound calls": the gateway has no business sending anything but these (MESSAGE, INFO, SUBSCRIBE,
  // NOTIFY, REFER, PUBLISH... in or out of a dialog): refuse and say so in the log.
  if (!ALLOWED.includes(req.method)) return respond(req, rinfo, 405, "Method Not Allowed", [`Allow: ${ALLOWED.join(",")}`], `405 method ${req.method}`);
  const known = calls.get(req.callId);
  if (known) {
    known.gw = `${rinfo.address}:${rinfo.port}`;
    const [h, p] = known.backend.split(":");
    return relay(buf, h, Number(p), "ngn", req);
  }
  if (req.method === "ACK") return out({ ev: "drop", reason: "ACK for no dialog", callId: req.callId });
  if (req.method !== "INVITE") return respond(req, rinfo, 481, "Call/Transaction Does Not Exist", [], "481");
  if (rinfo.port !== 5060) return respond(req, rinfo, 403, "Forbidden", [], "403 source port");
  if (/;\s*rport\b/i.test(topVia(req))) return respond(req, rinfo, 400, "Bad Request", [], "400 rport");
  if (requireRegistration && !registeredSource(rinfo.address)) return respond(req, rinfo, 403, "Forbidden", [], "403 not registered");
  if (!uas) return respond(req, rinfo, 480, "Temporarily Unavailable", [], "480 no uas scenario");
  calls.set(req.callId, { backend: uas, gw: `${rinfo.address}:${rinfo.port}`, at: Date.now() });
  const [h, p] = uas.split(":");
  relay(buf, h, Number(p), "ngn", req);
}

function relay(buf, host, portNo, side, msg) {
  sock.send(buf, portNo, host);
  out({ ev: "relay", peer: `${host}:${portNo}`, side, first: msg.first, method: msg.method, status: msg.status, callId: msg.callId, cseq: msg.cseq });
}

function fromBackend(msg, rinfo, buf) {
  const src = `${rinfo.address}:${rinfo.port}`;
  if (msg.method) {
    // A scenario's request goes where its Request-URI says (a proxy's basic routing).
    const target = uriParts(msg.uri);
    if (!target) return out({ ev: "drop", reason: "bad request-uri from backend", first: msg.first });
    const entry = calls.get(msg.callId) ?? { at: Date.now() };
    entry.backend = src;
    // A Request-URI naming the domain (SIPp's BYE when it aborts a call uses the To URI) is
    // routed to the dialog's gateway, as the NGN's S-CSCF would route it to the registered
    // Contact; the domain resolves nowhere (docs/ngn.md "Registration") and must never reach a DNS lookup.
    if (/^\d+\.\d+\.\d+\.\d+$/.test(target.host)) entry.gw = `${target.host}:${target.port}`;
    else if (!entry.gw) return out({ ev: "drop", reason: "request-uri is no address and the call is unknown", first: msg.first, callId: msg.callId });
    calls.set(msg.callId, entry);
    const [gh, gp] = entry.gw.split(":");
    sock.send(buf, Number(gp), gh);
    return out({ ev: "tx", peer: entry.gw, side: "gw", first: msg.first, method: msg.method, callId: msg.callId, cseq: msg.cseq, text: msg.text });
  }
  const entry = calls.get(msg.callId);
  if (!entry?.gw) return out({ ev: "drop", reason: "response for unknown call from backend", first: msg.first, callId: msg.callId });
  const [h, p] = entry.gw.split(":");
  sock.send(buf, Number(p), h);
  out({ ev: "tx", peer: entry.gw, side: "gw", first: msg.first, status: msg.status, callId: msg.callId, cseq: msg.cseq, text: msg.text });
}

sock.on("message", (buf, rinfo) => {
  // CRLF keep-alives (RFC 5626 §4.4.1) are not messages.
  if (buf.length <= 4 && /^[\r\n]*$/.test(buf.toString())) return;
  const fromBackendSide = rinfo.address === listen || rinfo.address.startsWith("127.");
  const msg = parse(buf);
  if (!fromBackendSide) out({ ev: "rx", peer: `${rinfo.address}:${rinfo.port}`, side: "gw", first: msg?.first, method: msg?.method, status: msg?.status, callId: msg?.callId, cseq: msg?.cseq, text: buf.toString("utf8") });
  if (!msg) return out({ ev: "drop", reason: "unparsable", peer: `${rinfo.address}:${rinfo.port}` });
  if (fromBackendSide) return fromBackend(msg, rinfo, buf);
  if (msg.method) return fromGateway(msg, rinfo, buf);
  // A response from the gateway goes back to the scenario that sent the request.
  const entry = calls.get(msg.callId);
  if (!entry?.backend) return out({ ev: "drop", reason: "response for unknown call", callId: msg.callId });
  const [h, p] = entry.backend.split(":");
  relay(buf, h, Number(p), "ngn", msg);
});

// Forget relayed calls after 10 minutes: bounded memory in a long lab run.
setInterval(() => {
  const old = Date.now() - 600_000;
  for (const [k, v] of calls) if (v.at < old) calls.delete(k);
}, 60_000).unref();

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  try {
    const c = JSON.parse(line);
    if ("registrar" in c) registrarMode = c.registrar;
    if ("uas" in c) uas = c.uas;
    if (c.bindings) out({ ev: "bindings", bindings: Object.fromEntries(bindings) });
    out({ ev: "control", registrar: registrarMode, uas });
  } catch (e) {
    out({ ev: "error", error: String(e) });
  }
});

process.on("SIGTERM", () => {
  sock.close();
  process.exit(0);
});

sock.bind(port, listen, () => out({ ev: "ready", listen: `${listen}:${port}` }));
