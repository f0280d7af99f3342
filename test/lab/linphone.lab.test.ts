/**
 * Linphone (Debian's `linphonec` 5.1, the liblinphone of the Linphone mobile apps) through the
 * built gateway, beside baresip: Linphone registers as 801; calls Linphone → 802 and 802 →
 * Linphone carry RTP both ways through the relay; Linphone holds and resumes (the gateway's
 * `status --json` shows the hold); its RFC 4733 DTMF reaches 802; a phone added with
 * `hikari-gw phone add` is set up by Linphone from the printed provisioning URL alone, registers
 * and calls, and the URL cannot be fetched a second time (the listener closed behind it); and with a second device on 801 (baresip)
 * answering, Linphone gets the CANCEL with RFC 3326's "Call completed elsewhere" and lists the
 * call as answered elsewhere, not missed.
 *
 * Each step is asserted on what crossed the gateway's bridge (tshark), on the gateway's own
 * status and log, and on what Linphone itself printed. The steps share the phones and go in
 * order: read the first failure.
 *
 *  hgwlph-gw  br0 198.18.14.1 (the gateway)
 *    ├── hgwlph-p801   198.18.14.11  linphonec as 801
 *    ├── hgwlph-p802   198.18.14.12  baresip as 802 (answers by itself)
 *    ├── hgwlph-p801c  198.18.14.13  baresip as a second 801 device (last step only)
 *    └── hgwlph-p803   198.18.14.14  linphonec set up by remote provisioning (phone add)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryStatus } from "../../src/control.js";
import { labReady } from "./env.js";
import { startLinphonec, type Linphonec } from "./linphone/linphonec.js";
import { Lab } from "./netns.js";
import { CLI, gatewayBuilt, startGateway, type GatewayProcess } from "./sip/gateway-process.js";
import { describeRtp, describeSip, eventsBetween, rtpBetween, sipBetween, startBridgeCapture, startSoftphone, type BridgeCapture, type Softphone, type WireCapture, type WireSip } from "./sip/softphone.js";
import { buildSipLab, type Phone } from "./sip/topology.js";

const ready = labReady("linphone lab", ["linphonec", "baresip", "tshark", "curl", "ss", "bash"]);
const SUBNET = "198.18.14";
const GW = `${SUBNET}.1`;
/** More than 50 RTP packets each way: one second of 20 ms packets. */
const MIN_PACKETS = 50;
/** RFC 4733 §3.2: event codes 0-9 are the digits, 11 is #. */
const DIGITS = "42#";
const EVENTS = [4, 2, 11];
const CANCEL_REASON = 'SIP;cause=200;text="Call completed elsewhere"';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);

interface SideMedia {
  rx?: { packets?: number };
}
interface StatusCall {
  state?: string;
  from?: string;
  to?: string;
  on_hold?: string;
  media?: { a?: SideMedia; b?: SideMedia };
}
interface Status {
  calls?: StatusCall[];
  media?: { sessions?: number };
  extensions?: { number?: string; registered?: boolean }[];
}

describe.skipIf(!ready)("Linphone (linphonec) through the gateway, beside baresip", () => {
  let lab: Lab;
  let dir: string;
  let gw: GatewayProcess;
  let p801: Phone;
  let p802: Phone;
  let p801c: Phone;
  let p803: Phone;
  let lin: Linphonec;
  let ua802: Softphone;
  let ua801c: Softphone | undefined;
  let prov: Linphonec | undefined;
  const stateDir = () => join(dir, "state");

  beforeAll(async () => {
    if (!gatewayBuilt()) throw new Error("dist/cli.js missing: run `npm run build` first");
    lab = new Lab("hgwlph");
    const net = buildSipLab(lab, ["801", "802", "801", "803"], { subnet: SUBNET, vethTag: "hlp", dropUnreachable: false });
    [p801, p802, p801c, p803] = net.phones as [Phone, Phone, Phone, Phone];
    dir = mkdtempSync(join(tmpdir(), "hgw-linphone-"));
    gw = await startGateway(lab, "gw", dir, {
      listen: GW,
      port: 5060,
      // 803 is not configured: `phone add` makes it.
      extensions: [
        { number: "801", password: p801.password, name: "Linphone" },
        { number: "802", password: p802.password, name: "Baresip" },
      ],
      ringTimeoutS: 15,
      stateDir: stateDir(),
      rtpPorts: "52400-52499",
      // The relay's own packet counts are asserted: media stays in userspace.
      offload: "none",
    });
    [lin, ua802] = await Promise.all([
      startLinphonec(lab, p801.host, { dir: join(dir, "linphone-801"), account: { number: "801", password: p801.password, registrar: GW }, defaultRoute: GW, maxS: 120 }),
      startSoftphone(lab, p802.host, join(dir, "baresip-802"), { number: "802", password: p802.password, registrar: GW, localAddr: p802.addr, answermode: "auto" }, { maxS: 120, toneSeconds: 120, toneHz: 660 }),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([lin?.quit(), prov?.quit(), ua802?.quit(), ua801c?.quit()]);
    await lab?.destroy();
    // HGW_LAB_KEEP=1 keeps the captures, rc files and the gateway's config.
    if (dir && process.env.HGW_LAB_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
    else if (dir) console.warn(`linphone lab: kept ${dir}`);
  });

  const status = async () => (await queryStatus(stateDir())) as Status;
  const explain = (w: WireCapture | undefined, ...phones: { name: string; output: () => string }[]) =>
    (w ? `--- SIP on the gateway's bridge ---\n${describeSip(w)}\n--- RTP flows ---\n${describeRtp(w)}\n` : "") +
    phones.map((p) => `--- ${p.name} ---\n${p.output().replace(/\[\d+:\d\d:\d\d\] audio=\S+ \(bit\/s\)\s*/g, "").slice(-1500)}`).join("\n") +
    `\n--- gateway log ---\n${gw.lines.slice(-25).join("\n")}`;
  const linP = () => ({ name: "linphonec 801", output: () => lin.output() });
  const bareP = () => ({ name: "baresip 802", output: () => ua802.output() });
  // linphonec 5.1 with G.711 alone numbers telephone-event 96, its first dynamic payload type.
  const capture = (maxS: number): Promise<BridgeCapture> => startBridgeCapture(lab, "gw", "br0", dir, maxS, p801.addr, { telephoneEventPt: 96 });
  const invite = (sdpDir: string) => (m: WireSip) => m.method === "INVITE" && m.hasSdp && m.direction === sdpDir;
  const flowsBothWays = (w: WireCapture, x: string, y: string, after = 0) => ({
    [`${x} → gateway`]: rtpBetween(w, x, GW, { after }).length,
    [`gateway → ${y}`]: rtpBetween(w, GW, y, { after }).length,
    [`${y} → gateway`]: rtpBetween(w, y, GW, { after }).length,
    [`gateway → ${x}`]: rtpBetween(w, GW, x, { after }).length,
  });
  const expectFlows = (flows: Record<string, number>, why: string) => {
    for (const [flow, n] of Object.entries(flows)) expect(n, `RTP ${flow}\n${why}`).toBeGreaterThan(MIN_PACKETS);
  };
  /** One call up on the gateway, with the relay's live figures. */
  const oneCall = async (): Promise<StatusCall> => {
    const st = await status();
    const up = (st.calls ?? []).filter((c) => c.state !== "ended");
    expect(up.length, JSON.stringify(st)).toBe(1);
    return up[0]!;
  };
  /** Every call ended and every relay session released. */
  const expectIdle = async (why: () => string) => {
    let st: Status = {};
    for (let i = 0; i < 30; i++) {
      st = await status();
      if ((st.calls ?? []).every((c) => c.state === "ended") && st.media?.sessions === 0) break;
      await sleep(100);
    }
    expect((st.calls ?? []).filter((c) => c.state !== "ended"), `calls left\n${JSON.stringify(st)}\n${why()}`).toEqual([]);
    expect(st.media?.sessions, `relay sessions left\n${why()}`).toBe(0);
  };
  /** `status register` until it says registered (it registers in the background). */
  const registered = async (p: Linphonec, number: string) => {
    const want = new RegExp(`registered, identity=.*sip:${number}@${GW.replace(/\./g, "\\.")}`);
    for (let i = 0; i < 40; i++) {
      const m = await p.ask("status register", /registered=-?\d+|registered, identity=.*/);
      if (want.test(m[0])) return;
      await sleep(250);
    }
    throw new Error(`linphonec never registered as ${number}\n${p.output().slice(-2000)}\n${gw.lines.slice(-20).join("\n")}`);
  };

  it("Linphone registers as 801 (digest) with PCMU/PCMA only; baresip as 802", async () => {
    await registered(lin, "801");
    await ua802.waitFor(new RegExp(`802@${GW.replace(/\./g, "\\.")}: \\{0/UDP/v4\\} 200 OK`), 10_000);
    const st = await status();
    expect(st.extensions?.map((e) => [e.number, e.registered]), JSON.stringify(st)).toEqual([
      ["801", true],
      ["802", true],
    ]);
  }, 20_000);

  it("Linphone calls 802, baresip answers: RTP both ways through the relay (tshark and the relay's own figures)", async () => {
    const cap = await capture(30);
    const m = lin.mark();
    lin.command(`call sip:802@${GW}`);
    await lin.waitFor(/Media streams established with \S+ for call \d+ \(audio\)/, 10_000, m);
    await ua802.waitFor(/Call established/, 5000);
    await sleep(2500);
    const call = await oneCall();
    const w = await cap.stop();
    const why = explain(w, linP(), bareP());
    expect([call.from, call.to], why).toEqual(["801", "802"]);
    // a = the caller's side (Linphone), b = the callee's (802): what the relay received from each.
    expect(call.media?.a?.rx?.packets ?? 0, `relay: RTP from Linphone\n${JSON.stringify(call)}\n${why}`).toBeGreaterThan(MIN_PACKETS);
    expect(call.media?.b?.rx?.packets ?? 0, `relay: RTP from 802\n${JSON.stringify(call)}\n${why}`).toBeGreaterThan(MIN_PACKETS);
    expectFlows(flowsBothWays(w, p801.addr, p802.addr), why);
    expect([...rtpBetween(w, p801.addr, p802.addr), ...rtpBetween(w, p802.addr, p801.addr)].length, `phones talked directly\n${why}`).toBe(0);
  }, 30_000);

  it("Linphone holds (pause) and resumes: `hikari-gw status --json` shows the hold by the caller, RTP flows again after the resume", async () => {
    const cap = await capture(30);
    await lin.ask("pause", /Call \d+ with \S+ is now paused\./);
    await sleep(500);
    const { stdout } = await run("ip", ["netns", "exec", lab.ns("gw"), process.execPath, CLI, "status", "--json", "--state-dir", stateDir()], { timeout: 10_000 });
    const held = (JSON.parse(stdout) as Status).calls?.filter((c) => c.state !== "ended") ?? [];
    expect(held.map((c) => c.on_hold), stdout).toEqual(["caller"]);
    const m = lin.mark();
    lin.command("resume");
    await lin.waitFor(/Media streams established with \S+ for call \d+/, 5000, m);
    await sleep(2500);
    expect((await oneCall()).on_hold, "still on hold after the resume").toBeUndefined();
    const w = await cap.stop();
    const why = explain(w, linP(), bareP());
    // RFC 3264 §8.4: Linphone's hold offers sendonly (or inactive); the gateway passes it to 802.
    const holdA = sipBetween(w, p801.addr, GW).filter((x) => invite("sendonly")(x) || invite("inactive")(x));
    expect(holdA.length, `Linphone's hold re-INVITE\n${why}`).toBeGreaterThan(0);
    expect(sipBetween(w, GW, p802.addr).filter((x) => x.method === "INVITE" && x.direction === holdA[0]!.direction).length, `hold relayed to 802\n${why}`).toBeGreaterThan(0);
    const resumed = sipBetween(w, GW, p801.addr).filter((x) => x.status === 200 && x.cseq === "INVITE" && x.direction === "sendrecv");
    expect(resumed.length, `the resume's 200 (sendrecv) to Linphone\n${why}`).toBeGreaterThan(0);
    expect(w.sip.filter((x) => x.method === "BYE"), `a BYE during the hold\n${why}`).toEqual([]);
    expectFlows(flowsBothWays(w, p801.addr, p802.addr, resumed.at(-1)!.t), why);
  }, 30_000);

  it(`Linphone sends DTMF ${DIGITS}: RFC 4733 events reach 802 through the relay`, async () => {
    const cap = await capture(20);
    lin.command(DIGITS);
    // linphonec sends one digit a second and reads no command meanwhile.
    await sleep(DIGITS.length * 1000 + 800);
    const w = await cap.stop();
    const why = explain(w, linP(), bareP());
    expect(eventsBetween(w, p801.addr, GW), `events sent by Linphone\n${why}`).toEqual(EVENTS);
    expect(eventsBetween(w, GW, p802.addr), `events relayed to 802\n${why}`).toEqual(EVENTS);
    // Each event ends (RFC 4733 §2.5.1.4: the E bit) on 802's side too.
    const ends = rtpBetween(w, GW, p802.addr).filter((p) => p.end === true);
    expect(new Set(ends.map((p) => p.timestamp)).size, `ended events toward 802\n${why}`).toBe(EVENTS.length);
  }, 20_000);

  it("Linphone hangs up (terminate): 802 gets the BYE, the gateway logs the call's media once and keeps nothing", async () => {
    const ended0 = gw.lines.filter((l) => l.includes('"msg":"call ended"')).length;
    const m802 = ua802.mark();
    await lin.ask("terminate", /Call \d+ with \S+ ended \(/);
    await ua802.waitFor(/terminated|session closed/, 5000, m802);
    await expectIdle(() => explain(undefined, linP(), bareP()));
    const ended = gw.lines.filter((l) => l.includes('"msg":"call ended"'));
    expect(ended.length - ended0, gw.lines.slice(-10).join("\n")).toBe(1);
  }, 15_000);

  it("802 calls Linphone, Linphone answers: RTP both ways; 802 hangs up and Linphone's call ends", async () => {
    const cap = await capture(30);
    const m = lin.mark();
    ua802.command("dial 801");
    await lin.waitFor(/Receiving new incoming call from .*<sip:802@/, 10_000, m);
    lin.command("answer");
    await lin.waitFor(/Media streams established with .* for call \d+ \(audio\)/, 5000, m);
    await ua802.waitFor(/Call established/, 5000);
    await sleep(2500);
    const call = await oneCall();
    expect([call.from, call.to], JSON.stringify(call)).toEqual(["802", "801"]);
    expect(call.media?.a?.rx?.packets ?? 0, `relay: RTP from 802\n${JSON.stringify(call)}`).toBeGreaterThan(MIN_PACKETS);
    expect(call.media?.b?.rx?.packets ?? 0, `relay: RTP from Linphone\n${JSON.stringify(call)}`).toBeGreaterThan(MIN_PACKETS);
    const mEnd = lin.mark();
    ua802.command("hangup");
    await lin.waitFor(/Call \d+ with .* ended \(/, 5000, mEnd);
    const w = await cap.stop();
    const why = explain(w, linP(), bareP());
    expectFlows(flowsBothWays(w, p802.addr, p801.addr), why);
    expect(sipBetween(w, GW, p801.addr).filter((x) => x.method === "BYE").length, `BYE to Linphone\n${why}`).toBe(1);
    await expectIdle(() => why);
  }, 30_000);

  it("phone add prints a provisioning URL; Linphone set up from it alone registers, calls 802 and sends RFC 4733 DTMF; restarted, it keeps the account without fetching the spent URL, which no longer answers", async () => {
    const { stdout: added } = await run("ip", ["netns", "exec", lab.ns("gw"), process.execPath, CLI, "phone", "add", "Linphone2", "--config", join(dir, "gateway.yaml")], { timeout: 20_000 });
    const url = /^(http:\/\/\S+\/provision\/\S+)$/m.exec(added)?.[1];
    const user = /^User:\s+(\S+)$/m.exec(added)?.[1];
    expect(url, added).toMatch(new RegExp(`^http://${GW.replace(/\./g, "\\.")}:8580/provision/`));
    expect(user, added).toBe("803");
    // Nothing but the URL: no account in the rc, and DTMF set to SIP INFO as another provider
    // might have left it; the document must switch it to RFC 4733 (liblinphone's [sip] keys).
    const provDir = join(dir, "linphone-803");
    prov = await startLinphonec(lab, p803.host, { dir: provDir, configUri: url!, dtmf: "sip-info", defaultRoute: GW, maxS: 90 });
    await registered(prov, "803");
    const served = () => gw.lines.filter((l) => l.includes('"msg":"provisioning document served'));
    expect(served().length, gw.lines.slice(-10).join("\n")).toBe(1);
    expect(served()[0], "fetched by the phone itself").toContain(`"source":"${p803.addr}"`);

    // Captured from before the INVITE: tshark learns the telephone-event type from the SDP.
    const cap = await startBridgeCapture(lab, "gw", "br0", dir, 30, p801.addr);
    const m = prov.mark();
    const m802 = ua802.mark();
    // A bare number: the provisioned account's domain (the gateway) completes it.
    prov.command("call 802");
    await prov.waitFor(/Media streams established with \S+ for call \d+ \(audio\)/, 10_000, m);
    await ua802.waitFor(/Call established/, 5000, m802);
    await sleep(1500);
    prov.command("5");
    await sleep(1800);
    const call = await oneCall();
    const provP = { name: "linphonec 803 (provisioned)", output: () => prov!.output() };
    expect([call.from, call.to], JSON.stringify(call)).toEqual(["803", "802"]);
    expect(call.media?.a?.rx?.packets ?? 0, `relay: RTP from the provisioned Linphone\n${JSON.stringify(call)}`).toBeGreaterThan(MIN_PACKETS);
    expect(call.media?.b?.rx?.packets ?? 0, `relay: RTP from 802\n${JSON.stringify(call)}`).toBeGreaterThan(MIN_PACKETS);
    await prov.ask("terminate", /Call \d+ with \S+ ended \(/);
    const w = await cap.stop();
    const why = explain(w, provP, bareP());
    expectFlows(flowsBothWays(w, p803.addr, p802.addr), why);
    expect(eventsBetween(w, p803.addr, GW), `RFC 4733 events from the provisioned Linphone\n${why}`).toEqual([5]);
    expect(eventsBetween(w, GW, p802.addr), `events relayed to 802\n${why}`).toEqual([5]);
    expect(sipBetween(w, p803.addr, GW).filter((x) => x.method === "INFO"), `SIP INFO from the provisioned Linphone\n${why}`).toEqual([]);
    await expectIdle(() => why);

    // The phone restarts on what it stored: the account is there and the spent URL is not
    // fetched again (the document made the provisioning transient).
    await prov.quit();
    prov = await startLinphonec(lab, p803.host, { dir: provDir, restart: true, defaultRoute: GW, maxS: 60 });
    await registered(prov, "803");
    // liblinphone forgot config-uri when it applied the transient document: no fetch at start.
    expect(readFileSync(join(provDir, "linphonerc"), "utf8"), "the phone still holds the spent URL").not.toMatch(/config-uri=/);
    expect(served().length).toBe(1);

    // The same URL once more, as anyone holding it would: nothing listens any more, since the
    // one URL was spent and the listener opens only while a URL is outstanding.
    const again = await lab.run(p803.host, "curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url!]);
    expect(again.stdout.trim(), "second fetch of a one-time URL").toBe("000");
    expect(again.code, `curl: connection refused\n${again.stderr}`).toBe(7);
    expect(gw.lines.some((l) => l.includes('"msg":"provisioning HTTP listener closed: nothing to serve"')), "the listener's close is logged").toBe(true);
  }, 45_000);

  it("two devices on 801 (Linphone ringing, baresip answering): Linphone gets CANCEL with Reason 'Call completed elsewhere' and lists the call as answered elsewhere, not missed", async () => {
    ua801c = startSoftphone(lab, p801c.host, join(dir, "baresip-801c"), { number: "801", password: p801.password, registrar: GW, localAddr: p801c.addr, answermode: "manual" }, { maxS: 60, toneSeconds: 60, toneHz: 550 });
    await ua801c.waitFor(new RegExp(`801@${GW.replace(/\./g, "\\.")}: \\{0/UDP/v4\\} 200 OK`), 10_000);
    const other = { name: "baresip 801 (second device)", output: () => ua801c!.output() };
    const cap = await capture(30);
    const m = lin.mark();
    const mOther = ua801c.mark();
    ua802.command("dial 801");
    // Both devices ring; the other one answers once Linphone is ringing too.
    await lin.waitFor(/Receiving new incoming call from .*<sip:802@/, 10_000, m);
    await ua801c.waitFor(/Incoming call from/, 5000, mOther);
    ua801c.command("accept");
    await ua801c.waitFor(/Call established/, 5000, mOther);
    const ended = await lin.waitFor(/Call \d+ with .* ended \((.*)\)\./, 5000, m);
    await sleep(500);
    const w = await cap.stop();
    const why = explain(w, linP(), bareP(), other);
    const cancels = sipBetween(w, GW, p801.addr).filter((x) => x.method === "CANCEL");
    expect(cancels.length, `CANCEL to Linphone\n${why}`).toBeGreaterThan(0);
    expect(cancels[0]!.reason, why).toBe(CANCEL_REASON);
    expect(sipBetween(w, GW, p801c.addr).filter((x) => x.method === "CANCEL"), `no CANCEL to the device that answered\n${why}`).toEqual([]);
    // What Linphone makes of it: its call log (newest first) says answered elsewhere; without
    // the Reason it says "missed".
    const from = lin.mark();
    lin.command("call-logs");
    await lin.waitFor(/Status: [^\n]*\n[\s\S]*linphonec> /, 5000, from);
    const log = lin.output().slice(from);
    const newest = log.split(/(?=(?:Incoming|Outgoing) call at)/).find((e) => /^(?:Incoming|Outgoing) call at/.test(e)) ?? "";
    expect(newest, `${ended[0]}\n${log}`).toMatch(/^Incoming call at[\s\S]*From: .*<sip:802@[\s\S]*Status: answered elsewhere/);
    expect(log, `${ended[0]}\n${log}`).not.toMatch(/Status: missed/);
    ua802.command("hangup");
    await expectIdle(() => why);
  }, 40_000);
});
