import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { DigestServer, digestAuthorization } from "../sip/digest.js";
import { getHeader, getHeaders, parseAuthParams, setHeader } from "../sip/message/index.js";
import type { Header, SipRequest, SipResponse } from "../sip/message/types.js";
import { BindingsStore, type Binding } from "./bindings-store.js";
import { Lockout } from "./lockout.js";
import { Registrar, type BindingRemovalReason } from "./registrar.js";

const REALM = "hikari-gw";
const PASSWORDS: Record<string, string> = { "801": "pw-801", "802": "pw-802" };
const PHONE_A = { address: "198.18.0.10", port: 5060 };
const PHONE_B = { address: "198.18.0.11", port: 34567 };

interface Spec {
  user?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  contacts?: string[];
  expires?: string;
  authorization?: string;
  userAgent?: string;
}

/** A REGISTER built straight on the message model (no parser in the loop). */
function register(s: Spec): SipRequest {
  const user = s.user ?? "801";
  const headers: Header[] = [
    { name: "via", value: `SIP/2.0/UDP 198.18.0.10:5060;branch=z9hG4bK${Math.random().toString(36).slice(2)};rport` },
    { name: "max-forwards", value: "70" },
    { name: "from", value: `<sip:${user}@${REALM}>;tag=f${user}` },
    { name: "to", value: `<sip:${s.to ?? user}@${REALM}>` },
    { name: "call-id", value: s.callId ?? `reg-${user}` },
    { name: "cseq", value: `${s.cseq ?? 1} REGISTER` },
  ];
  for (const c of s.contacts ?? []) headers.push({ name: "contact", value: c });
  if (s.expires !== undefined) headers.push({ name: "expires", value: s.expires });
  if (s.authorization !== undefined) headers.push({ name: "authorization", value: s.authorization });
  if (s.userAgent !== undefined) headers.push({ name: "user-agent", value: s.userAgent });
  headers.push({ name: "content-length", value: "0" });
  return {
    kind: "request",
    method: "REGISTER",
    uri: { scheme: "sip", host: REALM, params: new Map(), headers: new Map() },
    version: "SIP/2.0",
    headers,
    body: Buffer.alloc(0),
  };
}

function answer(res: SipResponse, user: string, password: string, nc = 1): string {
  const challenge = getHeader(res, "www-authenticate");
  if (challenge === undefined) throw new Error(`no challenge in ${res.status}`);
  return digestAuthorization({ challenge, method: "REGISTER", uri: `sip:${REALM}`, username: user, password, nc });
}

function contactsOf(res: SipResponse): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of getHeaders(res, "contact")) {
    const m = /^<([^>]+)>;expires=(\d+)/.exec(v.trim());
    if (!m) throw new Error(`unexpected Contact ${v}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe("Registrar", () => {
  let dir: string;
  let clock: ManualClock;
  let digest: DigestServer;
  let lockout: Lockout;
  let registrar: Registrar;
  let events: [string, string, BindingRemovalReason?][];
  let cseq: number;

  const make = (over: Partial<ConstructorParameters<typeof Registrar>[0]> = {}) => {
    const r = new Registrar({
      extensions: Object.entries(PASSWORDS).map(([number, password]) => ({ number, password })),
      realm: REALM,
      store: new BindingsStore({ stateDir: dir, clock, log: silentLogger() }),
      clock,
      log: silentLogger(),
      digest,
      lockout,
      ...over,
    });
    r.on("binding-added", (b) => events.push(["added", b.contact]));
    r.on("binding-refreshed", (b) => events.push(["refreshed", b.contact]));
    r.on("binding-removed", (b, why) => events.push(["removed", b.contact, why]));
    r.on("binding-moved", (b, from) => events.push(["moved", `${b.contact} ${from.address}:${from.port}>${b.source.address}:${b.source.port}`]));
    return r;
  };

  /** The full exchange a phone does: REGISTER, 401, REGISTER with credentials. */
  const registerAuthed = (s: Spec, source = PHONE_A, password?: string): SipResponse => {
    const user = s.user ?? "801";
    const first = registrar.handleRegister(register({ ...s, cseq: ++cseq }), source);
    if (first.status !== 401) return first;
    return registrar.handleRegister(
      register({ ...s, cseq: ++cseq, authorization: answer(first, user, password ?? PASSWORDS[user] ?? "x") }),
      source,
    );
  };

  /** Every binding of an extension, several per flow included (lookup() gives one per flow). */
  const held = (aor: string): Binding[] => registrar.all().filter((b) => b.aor === aor);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hikari-registrar-"));
    clock = new ManualClock(Date.UTC(2025, 0, 1, 12, 0, 0));
    digest = new DigestServer({ realm: REALM, nonceTtlMs: 300_000, clock });
    lockout = new Lockout({ clock, log: silentLogger(), maxFailures: 5, windowMs: 60_000, lockMs: 300_000 });
    events = [];
    cseq = 0;
    registrar = make();
  });
  afterEach(async () => {
    await registrar.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("does not reveal whether an extension exists: an unknown one is challenged like any other", () => {
    const res = registrar.handleRegister(register({ user: "803", contacts: ["<sip:803@198.18.0.10>"] }), PHONE_A);
    expect(res.status).toBe(401);
  });

  it("accepts an extension added while running and drops a removed one's bindings at once", () => {
    expect(registerAuthed({ user: "803", contacts: ["<sip:803@198.18.0.10>"] }, PHONE_A, "pw-803").status).toBe(403);
    registrar.extensionsChanged([...Object.entries(PASSWORDS).map(([number, password]) => ({ number, password })), { number: "803", password: "pw-803" }]);
    expect(registerAuthed({ user: "803", contacts: ["<sip:803@198.18.0.10>"] }, PHONE_A, "pw-803").status).toBe(200);
    expect(held("803")).toHaveLength(1);
    registrar.extensionsChanged(Object.entries(PASSWORDS).map(([number, password]) => ({ number, password })));
    expect(held("803")).toHaveLength(0);
    expect(events).toContainEqual(["removed", "sip:803@198.18.0.10", "unregistered"]);
    expect(registerAuthed({ user: "803", contacts: ["<sip:803@198.18.0.10>"] }, PHONE_A, "pw-803").status).toBe(403);
  });

  it("tags its answer when the request's To has no tag, even with a tag parameter inside the To URI (§8.2.6.2)", () => {
    const req = register({ contacts: ["<sip:801@198.18.0.10:5060>"], cseq: 1 });
    setHeader(req, "to", "<sip:801@hikari-gw;tag=in-the-uri>");
    const res = registrar.handleRegister(req, PHONE_A);
    expect(res.status).toBe(401);
    expect(getHeader(res, "to")).toMatch(/^<sip:801@hikari-gw;tag=in-the-uri>;tag=\w+$/);
  });

  it("challenges with 401 and a To tag, then registers with 200, Contact, expires and Date", () => {
    const first = registrar.handleRegister(register({ contacts: ["<sip:801@198.18.0.10:5060>"], cseq: 1 }), PHONE_A);
    expect(first.status).toBe(401);
    const ch = parseAuthParams(getHeader(first, "www-authenticate")!);
    expect(ch.scheme).toBe("Digest");
    expect(ch.params.get("realm")).toBe(REALM);
    expect(getHeader(first, "to")).toMatch(/;tag=/);
    expect(getHeader(first, "call-id")).toBe("reg-801");

    const ok = registrar.handleRegister(
      register({ contacts: ["<sip:801@198.18.0.10:5060>"], cseq: 2, authorization: answer(first, "801", "pw-801"), userAgent: "Linphone/5.2" }),
      PHONE_A,
    );
    expect(ok.status).toBe(200);
    expect(contactsOf(ok)).toEqual(new Map([["sip:801@198.18.0.10:5060", 3600]]));
    expect(getHeader(ok, "date")).toBe("Wed, 01 Jan 2025 12:00:00 GMT");
    expect(events).toEqual([["added", "sip:801@198.18.0.10:5060"]]);
    const [b] = registrar.lookup("801");
    expect(b).toMatchObject({ aor: "801", source: PHONE_A, userAgent: "Linphone/5.2", callId: "reg-801", cseq: 2 });
    expect(b!.expiresAt).toBe(clock.now() + 3_600_000);
  });

  it("refuses a wrong password with 403 after the challenge, and a stale nonce with 401 stale=true", () => {
    expect(registerAuthed({ contacts: ["<sip:801@198.18.0.10>"] }, PHONE_A, "wrong").status).toBe(403);
    const first = registrar.handleRegister(register({ contacts: ["<sip:801@198.18.0.10>"], cseq: 50 }), PHONE_A);
    const auth = answer(first, "801", "pw-801");
    clock.advance(300_001);
    const stale = registrar.handleRegister(register({ contacts: ["<sip:801@198.18.0.10>"], cseq: 51, authorization: auth }), PHONE_A);
    expect(stale.status).toBe(401);
    expect(parseAuthParams(getHeader(stale, "www-authenticate")!).params.get("stale")).toBe("true");
    expect(registrar.lookup("801")).toEqual([]);
  });

  it("five wrong passwords for 801 from elsewhere never lock the real 801 out; only the guesser's pair is locked", () => {
    for (let i = 0; i < 5; i++) expect(registerAuthed({ contacts: ["<sip:801@198.18.0.10>"] }, PHONE_B, "guess" + i).status).toBe(403);
    // The real 801 refreshing from its own address (the issue: 403, knocked offline).
    expect(registerAuthed({ contacts: ["<sip:801@198.18.0.10>"] }, PHONE_A).status).toBe(200);
    // The guesser's address is refused even with the right password, until the lock ends.
    expect(registerAuthed({ contacts: ["<sip:801@198.18.0.11>"] }, PHONE_B).status).toBe(403);
    clock.advance(300_000);
    expect(registerAuthed({ contacts: ["<sip:801@198.18.0.11>"] }, PHONE_B).status).toBe(200);
  });

  it("a phone behind the same address as a guesser, or a scanner, keeps registering", () => {
    const nat = (port: number) => ({ address: "198.18.0.77", port });
    // A guesser hammering 802 from the NAT's address…
    for (let i = 0; i < 12; i++) registerAuthed({ user: "802", contacts: ["<sip:802@198.18.0.77>"] }, nat(40000), "guess" + i);
    expect(registerAuthed({ contacts: ["<sip:801@10.0.0.5:5060>"] }, nat(34567)).status).toBe(200);
    // …then scanning other extensions (unknown ones too) from it.
    for (const user of ["803", "899", "898", "897"]) registerAuthed({ user, contacts: [`<sip:${user}@198.18.0.77>`] }, nat(40001), "guess");
    expect(lockout.isScanner("198.18.0.77")).toBe(true);
    expect(registerAuthed({ contacts: ["<sip:801@10.0.0.5:5060>"] }, nat(34567)).status).toBe(200);
  });

  it("a decoy username before the real one is refused as malformed (400) and never clears a lock", () => {
    for (let i = 0; i < 5; i++) registerAuthed({ user: "802", contacts: ["<sip:802@198.18.0.11>"] }, PHONE_B, "guess" + i);
    expect(lockout.check("802", PHONE_B.address).locked).toBe(true);
    const first = registrar.handleRegister(register({ user: "802", contacts: ["<sip:802@198.18.0.11>"], cseq: 90 }), PHONE_B);
    const decoy = answer(first, "802", "pw-802").replace(/^Digest /, 'Digest username="x", ');
    const res = registrar.handleRegister(register({ user: "802", contacts: ["<sip:802@198.18.0.11>"], cseq: 91, authorization: decoy }), PHONE_B);
    expect(res.status).toBe(400);
    expect(registrar.lookup("802")).toEqual([]);
    expect(lockout.check("802", PHONE_B.address).locked).toBe(true);
  });

  it("an authenticated phone cannot tell extensions apart: REGISTER To 899 and To 802 get the same 403", () => {
    const as801 = (to: string) => {
      const first = registrar.handleRegister(register({ to, contacts: ["<sip:801@198.18.0.10>"], cseq: ++cseq }), PHONE_A);
      return registrar.handleRegister(register({ to, contacts: ["<sip:801@198.18.0.10>"], cseq: ++cseq, authorization: answer(first, "801", "pw-801") }), PHONE_A);
    };
    const missing = as801("899");
    const other = as801("802");
    expect([missing.status, missing.reason]).toEqual([other.status, other.reason]);
    expect(missing.status).toBe(403);
    expect(missing.headers.map((h) => h.name)).toEqual(other.headers.map((h) => h.name));
  });

  it("answers an existing and a missing extension alike: same status and headers", () => {
    const shape = (r: SipResponse) => ({ status: r.status, reason: r.reason, names: r.headers.map((h) => h.name) });
    const challengeExisting = registrar.handleRegister(register({ user: "801", contacts: ["<sip:801@198.18.0.10>"], cseq: ++cseq }), PHONE_A);
    const challengeMissing = registrar.handleRegister(register({ user: "899", contacts: ["<sip:899@198.18.0.10>"], cseq: ++cseq }), PHONE_A);
    expect(shape(challengeMissing)).toEqual(shape(challengeExisting));
    expect(challengeExisting.status).toBe(401);
    const wrongExisting = registerAuthed({ user: "801", contacts: ["<sip:801@198.18.0.10>"] }, PHONE_A, "wrong");
    const wrongMissing = registerAuthed({ user: "899", contacts: ["<sip:899@198.18.0.10>"] }, PHONE_A, "wrong");
    expect(shape(wrongMissing)).toEqual(shape(wrongExisting));
    expect(wrongExisting.status).toBe(403);
    // The work behind the two 403s (the same hashing) is counted in enumeration-work.test.ts.
  });

  it("refuses 403 when the authenticated user is not the To user", () => {
    const first = registrar.handleRegister(register({ to: "801", user: "802", contacts: ["<sip:802@198.18.0.11>"], cseq: 1 }), PHONE_B);
    const res = registrar.handleRegister(
      register({ to: "801", user: "802", contacts: ["<sip:802@198.18.0.11>"], cseq: 2, authorization: answer(first, "802", "pw-802") }),
      PHONE_B,
    );
    expect(res.status).toBe(403);
    expect(registrar.lookup("801")).toEqual([]);
  });

  it("keeps several devices per extension and lists them all", () => {
    expect(registerAuthed({ contacts: ["<sip:801@198.18.0.10:5060>"], callId: "a" }, PHONE_A).status).toBe(200);
    clock.advance(10_000);
    const res = registerAuthed({ contacts: ["<sip:801@198.18.0.11:34567;transport=udp>"], callId: "b", expires: "600" }, PHONE_B);
    expect(res.status).toBe(200);
    expect(contactsOf(res)).toEqual(
      new Map([
        ["sip:801@198.18.0.10:5060", 3590],
        ["sip:801@198.18.0.11:34567;transport=udp", 600],
      ]),
    );
    expect(registrar.lookup("801").map((b) => b.source)).toEqual([PHONE_A, PHONE_B]);
    expect(registrar.lookup("802")).toEqual([]);
  });

  it("takes expires from the contact param, else the Expires header, else the default; caps at max", () => {
    const res = registerAuthed({
      contacts: ["<sip:801@198.18.0.10:1>;expires=120", "<sip:801@198.18.0.10:2>", "<sip:801@198.18.0.10:3>;expires=99999"],
      expires: "300",
    });
    expect(contactsOf(res)).toEqual(
      new Map([
        ["sip:801@198.18.0.10:1", 120],
        ["sip:801@198.18.0.10:2", 300],
        ["sip:801@198.18.0.10:3", 3600],
      ]),
    );
    const def = registerAuthed({ user: "802", contacts: ["<sip:802@198.18.0.11>"] }, PHONE_B);
    expect(contactsOf(def).get("sip:802@198.18.0.11")).toBe(3600);
  });

  it("answers 423 with Min-Expires for a too brief interval and changes nothing", () => {
    const res = registerAuthed({ contacts: ["<sip:801@198.18.0.10>;expires=30"] });
    expect(res.status).toBe(423);
    expect(getHeader(res, "min-expires")).toBe("60");
    expect(registrar.lookup("801")).toEqual([]);
  });

  it("removes one contact with expires=0 and all with Contact: * / Expires: 0", () => {
    registerAuthed({ contacts: ["<sip:801@198.18.0.10:1>", "<sip:801@198.18.0.10:2>", "<sip:801@198.18.0.10:3>"], callId: "x" });
    const one = registerAuthed({ contacts: ["<sip:801@198.18.0.10:2>;expires=0"], callId: "x" });
    expect([...contactsOf(one).keys()]).toEqual(["sip:801@198.18.0.10:1", "sip:801@198.18.0.10:3"]);
    const all = registerAuthed({ contacts: ["*"], expires: "0", callId: "x" });
    expect(all.status).toBe(200);
    expect(getHeaders(all, "contact")).toEqual([]);
    expect(registrar.lookup("801")).toEqual([]);
    expect(events.filter((e) => e[0] === "removed").map((e) => e[2])).toEqual(["unregistered", "unregistered", "unregistered"]);
  });

  it("refuses Contact: * with other contacts or a non-zero Expires (400)", () => {
    registerAuthed({ contacts: ["<sip:801@198.18.0.10>"] });
    expect(registerAuthed({ contacts: ["*"], expires: "60" }).status).toBe(400);
    expect(registerAuthed({ contacts: ["*"] }).status).toBe(400);
    expect(registerAuthed({ contacts: ["*", "<sip:801@198.18.0.12>"], expires: "0" }).status).toBe(400);
    expect(registrar.lookup("801")).toHaveLength(1);
  });

  it("answers a query (no Contact) with the current bindings", () => {
    registerAuthed({ contacts: ["<sip:801@198.18.0.10>"] });
    const q = registerAuthed({});
    expect(q.status).toBe(200);
    expect([...contactsOf(q).keys()]).toEqual(["sip:801@198.18.0.10"]);
    expect(events).toEqual([["added", "sip:801@198.18.0.10"]]);
  });

  it("orders by Call-ID and CSeq (§10.3 step 7): an older CSeq for the same Call-ID fails and changes nothing", () => {
    const c = ["<sip:801@198.18.0.10>"];
    registerAuthed({ contacts: c, callId: "same" });
    const stored = registrar.lookup("801")[0]!.cseq;
    // An old REGISTER of the same Call-ID arriving late, answered with fresh credentials.
    const first = registrar.handleRegister(register({ contacts: ["<sip:801@198.18.0.10>;expires=0"], callId: "same", cseq: stored }), PHONE_A);
    const late = registrar.handleRegister(
      register({ contacts: ["<sip:801@198.18.0.10>;expires=0"], callId: "same", cseq: stored, authorization: answer(first, "801", "pw-801") }),
      PHONE_A,
    );
    expect(late.status).toBe(400);
    expect(registrar.lookup("801")).toHaveLength(1);
    // A different Call-ID (the phone restarted) replaces the binding whatever its CSeq.
    const first2 = registrar.handleRegister(register({ contacts: c, callId: "new", cseq: 1 }), PHONE_A);
    const res = registrar.handleRegister(register({ contacts: c, callId: "new", cseq: 1, authorization: answer(first2, "801", "pw-801") }), PHONE_A);
    expect(res.status).toBe(200);
    expect(registrar.lookup("801")[0]).toMatchObject({ callId: "new", cseq: 1 });
    expect(events.map((e) => e[0])).toEqual(["added", "refreshed"]);
  });

  it("expires bindings on the clock: lookup at once, the event at the next sweep", () => {
    registerAuthed({ contacts: ["<sip:801@198.18.0.10>"], expires: "60" });
    clock.advance(60_000);
    expect(registrar.lookup("801")).toEqual([]);
    clock.advance(10_000);
    expect(events).toEqual([
      ["added", "sip:801@198.18.0.10"],
      ["removed", "sip:801@198.18.0.10", "expired"],
    ]);
    expect(registrar.all()).toEqual([]);
    expect(clock.pending()).toBeLessThanOrEqual(2); // the one sweep timer (+ the store's write)
  });

  it("replaces the same device (+sip.instance) under a new contact, and bounds devices per extension", async () => {
    const inst = ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
    registerAuthed({ contacts: [`<sip:801@198.18.0.10:5060>${inst}`], callId: "i1" });
    registerAuthed({ contacts: [`<sip:801@198.18.0.10:6060>${inst}`], callId: "i2" });
    expect(registrar.lookup("801").map((b) => b.contact)).toEqual(["sip:801@198.18.0.10:6060"]);
    expect(events).toContainEqual(["removed", "sip:801@198.18.0.10:5060", "replaced"]);

    await registrar.close();
    registrar = make({ maxContacts: 2 });
    for (let i = 1; i <= 3; i++) {
      clock.advance(1000);
      registerAuthed({ user: "802", contacts: [`<sip:802@198.18.0.11:${i}>`], callId: `d${i}` }, { address: PHONE_B.address, port: 40000 + i });
    }
    expect(registrar.lookup("802").map((b) => b.contact).sort()).toEqual(["sip:802@198.18.0.11:2", "sip:802@198.18.0.11:3"]);
  });

  it("keeps two devices behind different NATs that send the same private Contact (keyed by contact and flow)", () => {
    const lan = ["<sip:802@192.168.1.10:5060>"];
    const natA = { address: "198.18.0.21", port: 5060 };
    const natB = { address: "198.18.0.22", port: 5060 };
    expect(registerAuthed({ user: "802", contacts: lan, callId: "dev-a" }, natA).status).toBe(200);
    const res = registerAuthed({ user: "802", contacts: lan, callId: "dev-b" }, natB);
    expect(res.status).toBe(200);
    expect(getHeaders(res, "contact")).toHaveLength(2);
    expect(registrar.lookup("802").map((b) => b.source).sort((x, y) => x.address.localeCompare(y.address))).toEqual([natA, natB]);
    // One device's unregister takes only its own binding, not the other's same Contact.
    registerAuthed({ user: "802", contacts: ["<sip:802@192.168.1.10:5060>;expires=0"], callId: "dev-b" }, natB);
    expect(registrar.lookup("802").map((b) => b.source)).toEqual([natA]);
    expect(events.map((e) => e[0])).toEqual(["added", "added", "removed"]);
  });

  it("restores two same-Contact devices from state_dir as two bindings", async () => {
    const lan = ["<sip:802@192.168.1.10:5060>"];
    registerAuthed({ user: "802", contacts: lan, callId: "dev-a" }, { address: "198.18.0.21", port: 5060 });
    registerAuthed({ user: "802", contacts: lan, callId: "dev-b" }, { address: "198.18.0.22", port: 5060 });
    await registrar.close();
    registrar = make();
    expect(registrar.lookup("802").map((b) => b.source.address).sort()).toEqual(["198.18.0.21", "198.18.0.22"]);
  });

  it("follows a NAT rebinding: the same Call-ID and contact from a new source moves the binding", () => {
    const c = ["<sip:801@192.168.1.20:5060>"];
    registerAuthed({ contacts: c, callId: "nat" }, PHONE_A);
    const moved = { address: PHONE_A.address, port: 61000 };
    expect(registerAuthed({ contacts: c, callId: "nat" }, moved).status).toBe(200);
    expect(registrar.lookup("801").map((b) => b.source)).toEqual([moved]);
    expect(events).toEqual([
      ["added", "sip:801@192.168.1.20:5060"],
      ["refreshed", "sip:801@192.168.1.20:5060"],
      ["moved", "sip:801@192.168.1.20:5060 198.18.0.10:5060>198.18.0.10:61000"],
    ]);
    // Still one registration for step 7: an old CSeq of that Call-ID from the old flow fails.
    const stale = registrar.handleRegister(register({ contacts: c, callId: "nat", cseq: 1 }), PHONE_A);
    const late = registrar.handleRegister(register({ contacts: c, callId: "nat", cseq: 1, authorization: answer(stale, "801", "pw-801") }), PHONE_A);
    expect(late.status).toBe(400);
  });

  it("moves a +sip.instance binding to its new source and contact", () => {
    const inst = ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
    registerAuthed({ contacts: [`<sip:801@198.18.0.10:5060>${inst}`], callId: "m1" }, PHONE_A);
    registerAuthed({ contacts: [`<sip:801@198.18.0.11:5062>${inst}`], callId: "m2" }, PHONE_B);
    expect(registrar.lookup("801").map((b) => [b.contact, b.source])).toEqual([["sip:801@198.18.0.11:5062", PHONE_B]]);
    expect(events.map((e) => e[0])).toEqual(["added", "removed", "added", "moved"]);
  });

  it("replaces a restarted phone's binding on the same flow (new Call-ID, new Contact): one binding, one INVITE", () => {
    registerAuthed({ user: "802", contacts: ["<sip:802@198.18.0.11:5060;rinstance=old>"], callId: "boot-1" }, PHONE_B);
    const res = registerAuthed({ user: "802", contacts: ["<sip:802@198.18.0.11:5060;rinstance=new>"], callId: "boot-2" }, PHONE_B);
    expect([...contactsOf(res).keys()]).toEqual(["sip:802@198.18.0.11:5060;rinstance=new"]);
    expect(registrar.lookup("802").map((b) => b.contact)).toEqual(["sip:802@198.18.0.11:5060;rinstance=new"]);
    expect(events).toEqual([
      ["added", "sip:802@198.18.0.11:5060;rinstance=old"],
      ["removed", "sip:802@198.18.0.11:5060;rinstance=old", "replaced"],
      ["added", "sip:802@198.18.0.11:5060;rinstance=new"],
    ]);
  });

  it("keeps RFC 3261 semantics on one flow: several contacts of one REGISTER, and later ones under the same Call-ID, add up", () => {
    registerAuthed({ contacts: ["<sip:801@198.18.0.10:1>", "<sip:801@198.18.0.10:2>"], callId: "one-boot" });
    registerAuthed({ contacts: ["<sip:801@198.18.0.10:3>"], callId: "one-boot" });
    expect(held("801").map((b) => b.contact).sort()).toEqual(["sip:801@198.18.0.10:1", "sip:801@198.18.0.10:2", "sip:801@198.18.0.10:3"]);
    // A query and an unregister under a new Call-ID say nothing about the other contacts.
    registerAuthed({ callId: "other" });
    registerAuthed({ contacts: ["<sip:801@198.18.0.10:3>;expires=0"], callId: "other" });
    expect(held("801")).toHaveLength(2);
    // Another extension on the same flow (a two-line phone) is its own business.
    registerAuthed({ user: "802", contacts: ["<sip:802@198.18.0.10:1>"], callId: "line-2" });
    expect(held("801")).toHaveLength(2);
  });

  it("does not treat a proxy's flow (Path) or a different +sip.instance as a restart", () => {
    const path = (s: Spec) => {
      const r = register(s);
      r.headers.splice(1, 0, { name: "path", value: "<sip:edge.example;lr>" });
      return r;
    };
    for (const [i, cid] of ["p1", "p2"].entries()) {
      const c = [`<sip:801@10.0.0.${i + 1}:5060>`];
      const first = registrar.handleRegister(path({ contacts: c, callId: cid, cseq: 1 }), PHONE_A);
      expect(registrar.handleRegister(path({ contacts: c, callId: cid, cseq: 2, authorization: answer(first, "801", "pw-801") }), PHONE_A).status).toBe(200);
    }
    expect(held("801")).toHaveLength(2);
    const i1 = ';+sip.instance="<urn:uuid:11111111-0000-1000-8000-000000000001>"';
    const i2 = ';+sip.instance="<urn:uuid:11111111-0000-1000-8000-000000000002>"';
    registerAuthed({ user: "802", contacts: [`<sip:802@198.18.0.11:5060>${i1}`], callId: "i1" }, PHONE_B);
    registerAuthed({ user: "802", contacts: [`<sip:802@198.18.0.11:5060>${i2}`], callId: "i2" }, PHONE_B);
    expect(held("802")).toHaveLength(2);
  });

  it("looks up one binding per destination: several contacts of one phone ring it once", () => {
    const res = registerAuthed({ contacts: ["<sip:801@198.18.0.10:5060>;q=0.5", "<sip:801@198.18.0.10:5060;line=2>;q=0.9"], callId: "two" });
    expect(contactsOf(res).size).toBe(2); // both are bindings (RFC 3261 §10.3) and listed
    expect(registrar.all()).toHaveLength(2);
    expect(registrar.lookup("801").map((b) => b.contact)).toEqual(["sip:801@198.18.0.10:5060;line=2"]);
  });

  it("keeps working when a listener throws", () => {
    registrar.on("binding-added", () => {
      throw new Error("broken listener");
    });
    expect(registerAuthed({ contacts: ["<sip:801@198.18.0.10>"] }).status).toBe(200);
    expect(registrar.lookup("801")).toHaveLength(1);
    expect(events).toEqual([["added", "sip:801@198.18.0.10"]]);
  });

  it("loads a state file of the earlier format and drops a restarted phone's stale twin from it", async () => {
    await registrar.close();
    const at = (s: number) => clock.now() + s * 1000;
    // Written by the contact-keyed registrar: 802 twice on one flow (before and after a restart).
    const old = {
      version: 1,
      bindings: [
        { aor: "801", contact: "sip:801@198.18.0.10:5060", source: PHONE_A, path: [], userAgent: "Linphone/5.2", callId: "a", cseq: 2, expiresAt: at(3000), q: 0.5 },
        { aor: "802", contact: "sip:802@198.18.0.11:5060;rinstance=new", source: PHONE_B, path: [], callId: "boot-2", cseq: 2, expiresAt: at(3500) },
        { aor: "802", contact: "sip:802@198.18.0.11:5060;rinstance=old", source: PHONE_B, path: [], callId: "boot-1", cseq: 9, expiresAt: at(900) },
      ],
    };
    writeFileSync(join(dir, "bindings.json"), JSON.stringify(old));
    registrar = make();
    expect(registrar.lookup("801")).toEqual([old.bindings[0]]);
    expect(held("802").map((b) => b.contact)).toEqual(["sip:802@198.18.0.11:5060;rinstance=new"]);
    // And the 200 to the phone's next query lists only its live contact.
    const q = registerAuthed({ user: "802", callId: "boot-2" }, PHONE_B);
    expect([...contactsOf(q).keys()]).toEqual(["sip:802@198.18.0.11:5060;rinstance=new"]);
  });

  it("survives a restart: bindings come back from state_dir", async () => {
    registerAuthed({ contacts: ["<sip:801@198.18.0.10>"], expires: "600" }, PHONE_A);
    await registrar.close();
    clock.advance(60_000);
    registrar = make();
    const got: Binding[] = registrar.lookup("801");
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ contact: "sip:801@198.18.0.10", source: PHONE_A });
    // The 200 of the next query reports the remaining time, not the original one.
    expect(contactsOf(registerAuthed({})).get("sip:801@198.18.0.10")).toBe(540);
  });
});
