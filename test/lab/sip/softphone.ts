/**
 * Two real softphones through the gateway (softphones.lab.test.ts): its own /24 and namespaces,
 * baresip driven live through its stdio UI, and one tshark on the gateway's bridge that sees
 * both legs' SIP and RTP.
 *
 * The hosts are topology.ts's on 198.18.12.0/24, the phones baresip.ts's recipe with stdio.so,
 * the gateway gateway-process.ts's. The capture is its own: capture.ts leaves SIP out, and here
 * the re-INVITEs and the media must be read from one capture, in time order.
 *
 * baresip 1.0.0 (Debian) facts this relies on:
 * - `stdio.so` reads keys from stdin even when it is a pipe (it warns "could not setup terminal"
 *   and goes on); `menu.so` takes `/cmd args\n` long commands and single keys.
 * - During a call menu.so adds `/hold`, `/resume`, `/hangup`, and the digit keys 0-9 * #, each of
 *   which starts an RFC 4733 event; stdio.so "releases" the key by itself a moment later, which
 *   ends the event (three end packets, RFC 4733 §2.5.1.4).
 * - It echoes what is typed ("//h/ho/hol/hold"): wait for baresip's own words, never for a command.
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../netns.js";
import { waitForOutput } from "../process-output.js";
import { writeBaresipConfig, type BaresipAccount } from "./baresip.js";
import { buildSipLab, type Phone } from "./topology.js";

export const SOFTPHONE_LAB_PREFIX = "hgwsph";
/** 198.18.12.0/24: no other lab file uses it (0, 1, 2, 4, 5, 9, 40, 41 and 128/17 are taken). */
export const SOFTPHONE_GATEWAY_ADDR = "198.18.12.1";

export type LabPhone = Phone;

export interface SoftphoneLab {
  gatewayHost: string;
  gatewayAddr: string;
  /** the gateway's bridge: every packet between a phone and the gateway crosses it */
  bridge: string;
  phones: LabPhone[];
}

/** Gateway namespace with a bridge, one namespace per phone joined to it: topology.ts's lab on its own /24. */
export function buildSoftphoneLab(lab: Lab, numbers: string[]): SoftphoneLab {
  const net = buildSipLab(lab, numbers, { subnet: "198.18.12", vethTag: "hph", dropUnreachable: false });
  return { ...net, bridge: "br0" };
}

export interface Softphone {
  readonly number: string;
  child: ChildProcess;
  /** Everything baresip printed so far. */
  output(): string;
  /** Where the output ends now: pass to waitFor to look only at what comes after. */
  mark(): number;
  /** Resolves with the first match of `re` in the output after `from`; bounded by timeoutMs. */
  waitFor(re: RegExp, timeoutMs: number, from?: number): Promise<string>;
  /** A menu long command: `/cmd args` and Enter. */
  command(cmd: string): void;
  /** One key, as if pressed (the digits send DTMF during a call). */
  key(k: string): void;
  /** `/quit`, then SIGKILL if it has not gone in 3 s. */
  quit(): Promise<void>;
}

/**
 * Starts baresip in `host` with `dir` as its config: aufile (a tone of toneSeconds) as the
 * microphone, ALSA's null PCM as the speaker (the SIP lab's recipe), stdio.so for live control.
 * `maxS` bounds its life (-t) in case the test never gets to quit it.
 */
export function startSoftphone(lab: Lab, host: string, dir: string, a: BaresipAccount & { answermode?: "auto" | "manual" }, o: { maxS: number; toneSeconds: number; toneHz?: number }): Softphone {
  writeBaresipConfig(dir, a, { toneSeconds: o.toneSeconds, toneHz: o.toneHz, stdio: true, answermode: a.answermode });

  const child = lab.spawn(host, "baresip", ["-f", dir, "-t", String(o.maxS)], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  child.stdin?.on("error", () => undefined); // a write after it quit: nothing to do
  const hardStop = setTimeout(() => child.kill("SIGKILL"), (o.maxS + 10) * 1000);
  child.once("exit", () => clearTimeout(hardStop));
  const alive = () => child.exitCode === null && child.signalCode === null;

  return {
    number: a.number,
    child,
    output: () => out,
    mark: () => out.length,
    waitFor: async (re, timeoutMs, from = 0) => (await waitForOutput({ output: () => out, alive, name: `baresip ${a.number}` }, re, timeoutMs, from))[0],
    command(cmd) {
      if (alive()) child.stdin?.write(`/${cmd}\n`);
    },
    key(k) {
      if (alive()) child.stdin?.write(k);
    },
    async quit() {
      if (!alive()) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.stdin?.write("/quit\n");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** One SIP message as seen on the wire. */
export interface WireSip {
  /** seconds since the epoch */
  t: number;
  src: string;
  dst: string;
  /** request method, or undefined for a response */
  method?: string;
  status?: number;
  /** CSeq method */
  cseq: string;
  callId: string;
  /** the SDP's direction attribute (sendrecv, sendonly, recvonly, inactive), if it has SDP */
  direction?: string;
  hasSdp: boolean;
  /** The Reason header (RFC 3326), if any. */
  reason?: string;
}

/** One RTP packet as seen on the wire (RTCP is not counted). */
export interface WireRtp {
  t: number;
  /** address:port */
  src: string;
  dst: string;
  pt: number;
  timestamp: number;
  /** RFC 4733 event code, when it is a telephone-event packet */
  event?: number;
  end?: boolean;
}

export interface WireCapture {
  sip: WireSip[];
  rtp: WireRtp[];
}

export interface BridgeCapture {
  file: string;
  stop(): Promise<WireCapture>;
}

const WIRE_FIELDS = [
  "frame.time_epoch",
  "ip.src",
  "udp.srcport",
  "ip.dst",
  "udp.dstport",
  "sip.Method",
  "sip.Status-Code",
  "sip.CSeq.method",
  "sip.Call-ID",
  "sdp.media_attr",
  "sdp.version",
  "rtp.p_type",
  "rtp.timestamp",
  "rtpevent.event_id",
  "rtpevent.end_of_event",
  "sip.Reason",
];
/** The discard port (RFC 863): where the capture's liveness probes go. */
const PROBE_PORT = 9;

let captures = 0;

/**
 * tshark on `ifname` of `host`, decoding live (-l: a line per packet as it comes) all UDP: SIP
 * with its SDP, and RTP found heuristically (the relay's ports are dynamic; PT 101 is read as
 * telephone-event by tshark's default). Neither "Capturing on" nor a pcap file read back proved
 * the capture complete: steps' first messages, once a whole step, were missing. So a probe
 * datagram from `host` to `probeTo`'s discard port must come out of the decoder before a step
 * starts, and another before its capture is read: everything between the two was seen.
 */
export async function startBridgeCapture(lab: Lab, host: string, ifname: string, dir: string, maxS: number, probeTo: string, opts: { telephoneEventPt?: number } = {}): Promise<BridgeCapture> {
  const n = ++captures;
  const file = join(dir, `softphones-capture-${n}.tsv`);
  // A telephone-event payload type other than 101, negotiated before the capture started (so
  // tshark never saw its SDP), is decoded as RFC 4733 events only when named.
  const events = opts.telephoneEventPt === undefined ? [] : ["-d", `rtp.pt==${opts.telephoneEventPt},rtpevent`];
  const child = lab.spawn(
    host,
    "tshark",
    ["-n", "-l", "-i", ifname, "-f", "udp", "-a", `duration:${maxS}`, "-o", "rtp.heuristic_rtp:TRUE", ...events, "-T", "fields", "-E", "separator=\t", "-E", "aggregator=|", ...WIRE_FIELDS.flatMap((f) => ["-e", f])],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  let partial = "";
  child.stdout?.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter((l) => l.trim() !== ""));
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const probeSeen = (from: number) => lines.slice(from).some((l) => l.split("\t")[4] === String(PROBE_PORT));
  /** Sends probes every 100 ms until one is decoded (bounded). */
  const probe = async (what: string) => {
    const from = lines.length;
    const end = Date.now() + 10_000;
    while (!probeSeen(from)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`capture on ${host}/${ifname}: no probe seen ${what} in 10 s`);
      lab.exec(host, "bash", ["-c", `echo probe-${n} > /dev/udp/${probeTo}/${PROBE_PORT}`]);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await probe("at start");
  return {
    file,
    async stop() {
      await probe("at stop");
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
      writeFileSync(file, lines.join("\n") + "\n");
      return parseWire(lines.filter((l) => l.split("\t")[4] !== String(PROBE_PORT)));
    },
  };
}

/** tshark's field lines (WIRE_FIELDS, tab-separated) as SIP messages and RTP packets. */
export function parseWire(lines: string[]): WireCapture {
  const sip: WireSip[] = [];
  const rtp: WireRtp[] = [];
  for (const line of lines) {
    const [t, sa, sp, da, dp, method, status, cseq, callId, attrs, sdpVersion, pt, ts, ev, end, reason] = line.split("\t");
    if (cseq) {
      const direction = (attrs ?? "").split("|").find((x) => /^(sendrecv|sendonly|recvonly|inactive)$/.test(x));
      sip.push({
        t: Number(t),
        src: `${sa}:${sp}`,
        dst: `${da}:${dp}`,
        method: status ? undefined : method || undefined,
        status: status ? Number(status) : undefined,
        cseq,
        callId: callId ?? "",
        // RFC 4566 §6: no direction attribute means sendrecv.
        direction: sdpVersion ? (direction ?? "sendrecv") : undefined,
        hasSdp: Boolean(sdpVersion),
        reason: reason || undefined,
      });
    } else if (pt) {
      rtp.push({
        t: Number(t),
        src: `${sa}:${sp}`,
        dst: `${da}:${dp}`,
        pt: Number(pt),
        timestamp: Number(ts),
        event: ev ? Number(ev) : undefined,
        end: ev ? end === "1" || end === "True" : undefined,
      });
    }
  }
  return { sip, rtp };
}

const hostOf = (addrPort: string) => addrPort.slice(0, addrPort.lastIndexOf(":"));

/** RTP packets from host `from` to host `to` (addresses, any port), optionally in [after, before). */
export function rtpBetween(w: WireCapture, from: string, to: string, window: { after?: number; before?: number } = {}): WireRtp[] {
  return w.rtp.filter((p) => hostOf(p.src) === from && hostOf(p.dst) === to && p.t >= (window.after ?? 0) && p.t < (window.before ?? Infinity));
}

/** The RFC 4733 events from `from` to `to` in order, one per event (§2.5.1.2: a new event, a new timestamp). */
export function eventsBetween(w: WireCapture, from: string, to: string): number[] {
  const seen: number[] = [];
  let lastTs = -1;
  for (const p of rtpBetween(w, from, to)) {
    if (p.event === undefined) continue;
    if (p.timestamp !== lastTs) seen.push(p.event);
    lastTs = p.timestamp;
  }
  return seen;
}

/** SIP messages from host `from` to host `to`. */
export function sipBetween(w: WireCapture, from: string, to: string): WireSip[] {
  return w.sip.filter((m) => hostOf(m.src) === from && hostOf(m.dst) === to);
}

/** One line per message, for failure messages. */
export function describeSip(w: WireCapture): string {
  const t0 = w.sip[0]?.t ?? 0;
  return w.sip
    .map((m) => `${(m.t - t0).toFixed(3)} ${m.src} > ${m.dst} ${m.method ?? m.status} (${m.cseq}) ${m.callId.slice(0, 12)}${m.hasSdp ? ` sdp:${m.direction}` : ""}`)
    .join("\n");
}

/** Packets per flow, for failure messages. */
export function describeRtp(w: WireCapture): string {
  const flows = new Map<string, number>();
  for (const p of w.rtp) flows.set(`${p.src} > ${p.dst} pt ${p.pt}`, (flows.get(`${p.src} > ${p.dst} pt ${p.pt}`) ?? 0) + 1);
  return [...flows].map(([k, n]) => `${k}: ${n}`).join("\n");
}
