/**
 * 100,000 malformed datagrams at the LAN listener and the trunk while a call is up (issue 13
 * "Done when"): Via sent-by/rport ports 0, 65536, NaN, -1; duplicate auth parameters (the
 * decoy username=); 20 KB usernames; huge headers up to ~60 KB datagrams; a header repeated
 * 200 times; lying Content-Length; truncated messages; garbage (test/lab/security/flood.mjs).
 *
 * Three generators at once, paced over about 60 s:
 *   LAN  198.18.2.13 → 198.18.2.1:5060   50,000 (a LAN host: allowed to talk, so parsed)
 *   WAN  198.18.5.1  → lease:5060         25,000 (the NGN server's own address: passes the
 *                                          trunk's source filter, so parsed: the Via-port-0
 *                                          leak of issue 13 item 2 was on this path)
 *   WAN  198.18.5.66 → lease:5060         25,000 (a stranger on the WAN: dropped unparsed)
 * The gateway runs the README shape (lan.listen 0.0.0.0 with the trunk) under --expose-gc, so
 * `hikari-gw status --gc` gives the heap after a full GC. What must hold: the call carries on
 * (RTP both ways, BYE answered), the gateway keeps running and answering, its log stays
 * bounded, and its heap comes back within 10 MB of where it started.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import type { Ngn } from "./ngn/emulator.js";
import { NGN_LAB } from "./ngn/addresses.js";
import { startCapture } from "./sip/capture.js";
import { credentials, runSipp, startSipp, type SippRun } from "./sip/sipp.js";
import { find, header } from "./sip/trace.js";
import type { Phone, SipLab } from "./sip/topology.js";
import type { TrunkGateway } from "./trunk/gateway-run.js";
import { startTrunkLab, stopTrunkLab } from "./trunk/trunk-lab.js";
import { toneUlaw } from "./trunk/tone-ulaw.js";

const ready = labReady("security flood lab", ["sipp", "dnsmasq", "tshark", "nft", "ss"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FLOOD = join(dirname(fileURLToPath(import.meta.url)), "security", "flood.mjs");
const WAN_STRANGER = "198.18.5.66";
const FLOOD_S = 60;
const CALL_MS = 80_000;
const DIALLED = "0399990000";
const MB = 1024 * 1024;

describe.skipIf(!ready)("security: 100,000 malformed datagrams at the LAN and the WAN while a call is up", () => {
  let lab: Lab;
  let net: SipLab;
  let ngn: Ngn;
  let gw: TrunkGateway;
  let dir: string;
  let phone: Phone;
  let attacker: Phone;
  let seq = 0;

  const lease = () => NGN_LAB.subnets[0].lease;
  const why = () => `--- gateway ---\n${gw.lines.slice(-40).join("\n")}`;
  const sipp = (scenario: string, more: Partial<SippRun> = {}): SippRun => ({ scenario, host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir, name: `${++seq}-flood-${scenario.replace(".xml", "")}`, ...more });

  function flood(host: string, o: { bind: string; targets: { host: string; port: number }[]; count: number; seed: number; methods?: string[] }): Promise<{ code: number | null; report: string }> {
    const child = lab.spawn(host, process.execPath, [FLOOD, JSON.stringify({ ...o, seconds: FLOOD_S })]);
    let report = "";
    child.stdout?.on("data", (d: Buffer) => (report += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (report += d.toString()));
    const kill = setTimeout(() => child.kill("SIGKILL"), (FLOOD_S * 2 + 20) * 1000);
    return new Promise((resolve) =>
      child.once("exit", (code) => {
        clearTimeout(kill);
        resolve({ code, report });
      }),
    );
  }

  beforeAll(async () => {
    lab = new Lab("hgwfld");
    const t = await startTrunkLab(lab, {
      dirPrefix: "hgw-security-flood-",
      extraHosts: ["900"],
      gateway: { lanListen: "0.0.0.0", mediaTimeoutS: 10, exposeGc: true },
      sippName: (sc) => `${++seq}-flood-${sc.replace(".xml", "")}`,
    });
    ({ net, phone, ngn, gw, dir } = t);
    attacker = net.phones[2]!;
    expect(t.registration.code, `${t.registration.output}\n${why()}`).toBe(0);
    lab.exec(NGN_LAB.host, "ip", ["addr", "add", `${WAN_STRANGER}/32`, "dev", "lo"]);
    await ngn.waitRegistered(30_000);
    await ngn.startOutbound({ byeWaitMs: CALL_MS + 60_000 });
  }, 90_000);

  afterAll(async () => {
    await stopTrunkLab(lab, { gw, ngn, dir });
  });

  it("the call carries on, the gateway keeps answering, its log stays bounded, and its heap comes back within 10 MB after a full GC", async () => {
    // A first call warms the code paths up (JIT, pools), so the baseline is the working level.
    writeFileSync(join(dir, "tone.ulaw"), toneUlaw(440, 3));
    const warm = await runSipp(lab, sipp("uac-call-rtp.xml", { inf: [credentials("801", phone.password, DIALLED)], authUri: `${DIALLED}@${net.gatewayAddr}`, pauseMs: 2000, timeoutS: 20 }));
    expect(warm.code, `${warm.output}\n${why()}`).toBe(0);
    await sleep(2000);
    const start = gw.status(true).process!;
    expect(start.gc, "the gateway runs with --expose-gc: status --gc collects").toBe(true);

    writeFileSync(join(dir, "tone.ulaw"), toneUlaw(440, CALL_MS / 1000 + 2));
    const capture = await startCapture(lab, phone.host, "eth0", dir, CALL_MS / 1000 + 60);
    const call = startSipp(lab, sipp("uac-call-rtp.xml", { inf: [credentials("801", phone.password, DIALLED)], authUri: `${DIALLED}@${net.gatewayAddr}`, pauseMs: CALL_MS, timeoutS: CALL_MS / 1000 + 60 }));
    await sleep(4000);
    const linesBefore = gw.lines.length;
    const floods = await Promise.all([
      flood(attacker.host, { bind: attacker.addr, targets: [{ host: net.gatewayAddr, port: 5060 }], count: 50_000, seed: 1 }),
      // From the line's own address no INVITE: a well-formed one is a call from the line and
      // rings 801 by design (four log lines each when nobody answers, thousands in all), which
      // is the NGN calling, not junk. The other two floods carry every method.
      flood(NGN_LAB.host, { bind: NGN_LAB.pcscf, targets: [{ host: lease(), port: 5060 }], count: 25_000, seed: 2, methods: ["REGISTER", "OPTIONS", "BYE", "SUBSCRIBE"] }),
      flood(NGN_LAB.host, { bind: WAN_STRANGER, targets: [{ host: lease(), port: 5060 }], count: 25_000, seed: 3 }),
    ]);
    const reports = floods.map((f) => f.report.trim()).join("\n");
    const sent = floods.map((f) => (JSON.parse(f.report.trim().split("\n").at(-1) ?? "{}") as { sent?: number }).sent ?? 0);
    expect(sent.reduce((a, b) => a + b, 0), reports).toBe(100_000);
    expect(gw.process?.exitCode, why()).toBeNull();
    const during = gw.status();

    const c = await call.done;
    const flows = await capture.stop();
    expect(c.code, `the call through the flood\n${c.output}\n${why()}`).toBe(0);
    const sentRtp = flows.filter((f) => f.src === `${phone.addr}:6000`).reduce((n, f) => n + f.packets, 0);
    const back = flows.filter((f) => f.dst === `${phone.addr}:6000` && f.src.startsWith(`${net.gatewayAddr}:`)).reduce((n, f) => n + f.packets, 0);
    const expected = (CALL_MS / 1000) * 50;
    expect(sentRtp, JSON.stringify(flows)).toBeGreaterThan(expected * 0.9);
    expect(back, `RTP back through the relay during the flood\n${JSON.stringify(flows)}`).toBeGreaterThan(expected * 0.85);
    // Not hung up for silence: no media timeout for this call (its Call-ID on the phone's leg).
    const callId = header(find(c.messages, "sent", "INVITE")[0]!, "call-id") ?? "";
    expect(callId, "the call's Call-ID from its trace").not.toBe("");
    const timeouts = gw.lines.filter((l) => l.includes("media timeout"));
    expect(timeouts.filter((l) => l.includes(callId)), `${callId}\n${timeouts.join("\n")}`).toEqual([]);

    // The junk reached both listeners (counted), and was not copied into the log line by line.
    const lan = during.sip?.lan ?? {};
    const trunk = during.sip?.trunk ?? {};
    expect((lan.malformed ?? 0) + (lan.no_via ?? 0), JSON.stringify(during.sip)).toBeGreaterThan(1000);
    expect((trunk.malformed ?? 0) + (trunk.no_via ?? 0), JSON.stringify(during.sip)).toBeGreaterThan(1000);
    expect(trunk.not_allowed ?? 0, JSON.stringify(during.sip)).toBeGreaterThan(20_000);
    const floodLines = gw.lines.slice(linesBefore);
    expect(floodLines.length, `log lines during 100,000 datagrams\n${floodLines.slice(-20).join("\n")}`).toBeLessThan(3000);
    expect(floodLines.filter((l) => /uncaught|TypeError|RangeError|ERR_SOCKET_BAD_PORT|"level":"(fatal|error)"/.test(l)).slice(0, 5), "no exception, no error").toEqual([]);

    // Still serving: a fresh registration of the phone.
    const reg = await runSipp(lab, sipp("reg.xml", { inf: [credentials("801", phone.password)], keys: { expires: "300" }, authUri: net.gatewayAddr, timeoutS: 15 }));
    expect(reg.code, `${reg.output}\n${why()}`).toBe(0);

    // Heap: server transactions linger 64*T1 = 32 s after their final answer (RFC 3261
    // §17.2.2 Timer J), so poll for up to 60 s after the flood for the level to come back.
    let end = gw.status(true).process!;
    const deadline = Date.now() + 60_000;
    while (end.heap_used_bytes - start.heap_used_bytes >= 10 * MB && Date.now() < deadline) {
      await sleep(5000);
      end = gw.status(true).process!;
    }
    const figures = `heap after GC: start ${(start.heap_used_bytes / MB).toFixed(1)} MB, during ${((during.process?.heap_used_bytes ?? 0) / MB).toFixed(1)} MB (no GC), end ${(end.heap_used_bytes / MB).toFixed(1)} MB; RSS ${(start.rss_bytes / MB).toFixed(0)} → ${(end.rss_bytes / MB).toFixed(0)} MB; handles ${JSON.stringify(start.handles)} → ${JSON.stringify(end.handles)}`;
    // eslint-disable-next-line no-console
    console.log(`flood: ${reports.replace(/\n/g, " | ")}\nflood: ${figures}\nflood: counters ${JSON.stringify(during.sip)}\nflood: other calls' media timeouts: ${timeouts.length}\n${timeouts.slice(0, 3).join("\n")}`);
    expect(end.heap_used_bytes - start.heap_used_bytes, figures).toBeLessThan(10 * MB);
    expect(end.rss_bytes, figures).toBeLessThan(start.rss_bytes + 100 * MB);
  }, 300_000);
});
