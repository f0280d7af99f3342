/**
 * tshark on one lab interface for the length of a call, read back as RTP: packets per flow and
 * payload type, and the RFC 4733 telephone-events seen. The SIP lab's capture.ts counts UDP
 * flows only; the trunk tests must also tell audio (PT 0) from DTMF events (PT 101) on the
 * access link, so RTP is decoded here (heuristically: the ports are dynamic) and tshark's
 * rtpevent dissector, which takes PT 101 by default, reads the events.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { waitForLine, type Lab } from "../netns.js";

export interface RtpFlow {
  src: string;
  dst: string;
  /** Packets by RTP payload type. */
  byPt: Map<number, number>;
  packets: number;
}

/** One RFC 4733 §2.3 event packet as tshark decoded it. */
export interface RtpEventPacket {
  src: string;
  dst: string;
  event: number;
  end: boolean;
  /** RTP timestamp: every packet of one event carries the event's start timestamp (§2.3.1). */
  timestamp: number;
}

export interface RtpCaptureResult {
  flows: RtpFlow[];
  events: RtpEventPacket[];
  /** Packets between `a` and `b` (address or address:port prefixes), optionally of one PT. */
  count(from: string, to: string, pt?: number): number;
  /** The distinct event codes from `from` to `to`, in the order their first packet came. */
  digits(from: string, to: string): number[];
}

export interface RtpCapture {
  stop(): Promise<RtpCaptureResult>;
}

const matches = (addr: string, prefix: string) => addr === prefix || addr.startsWith(`${prefix}:`);

/** Start tshark on `ifname` in `host` (UDP other than SIP and DHCP), bounded to maxS seconds. */
export async function startRtpCapture(lab: Lab, host: string, ifname: string, dir: string, maxS: number): Promise<RtpCapture> {
  const file = join(dir, `rtp-${host}-${ifname}.pcap`);
  const child: ChildProcess = lab.spawn(host, "tshark", ["-n", "-i", ifname, "-f", "udp and not port 5060 and not port 67 and not port 68", "-a", `duration:${maxS}`, "-w", file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await waitForLine(child, /Capturing on/, 10_000, "stderr");
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        await new Promise((r) => child.once("exit", r));
      }
      return readRtp(file);
    },
  };
}

export function readRtp(file: string): RtpCaptureResult {
  const fields = ["ip.src", "udp.srcport", "ip.dst", "udp.dstport", "rtp.p_type", "rtp.timestamp", "rtpevent.event_id", "rtpevent.end_of_event"];
  const out = execFileSync("tshark", ["-n", "-r", file, "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp", "-T", "fields", "-E", "separator=\t", ...fields.flatMap((f) => ["-e", f])], {
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const flows = new Map<string, RtpFlow>();
  const events: RtpEventPacket[] = [];
  for (const line of out.split("\n")) {
    const [sa, sp, da, dp, pt, ts, ev, end] = line.split("\t");
    if (!sa || !dp || pt === undefined || pt === "") continue;
    const src = `${sa}:${sp}`;
    const dst = `${da}:${dp}`;
    const key = `${src}>${dst}`;
    const f = flows.get(key) ?? { src, dst, byPt: new Map<number, number>(), packets: 0 };
    f.packets++;
    f.byPt.set(Number(pt), (f.byPt.get(Number(pt)) ?? 0) + 1);
    flows.set(key, f);
    if (ev !== undefined && ev !== "") events.push({ src, dst, event: Number(ev), end: end === "1" || end === "True", timestamp: Number(ts) });
  }
  const list = [...flows.values()];
  return {
    flows: list,
    events,
    count: (from, to, pt) => list.filter((f) => matches(f.src, from) && matches(f.dst, to)).reduce((n, f) => n + (pt === undefined ? f.packets : (f.byPt.get(pt) ?? 0)), 0),
    digits: (from, to) => {
      const seen: number[] = [];
      let lastTs = -1;
      for (const e of events) {
        if (!matches(e.src, from) || !matches(e.dst, to)) continue;
        // A new event starts with a new timestamp (RFC 4733 §2.5.1.2); repeats and the
        // three end packets (§2.5.1.4) keep the old one.
        if (e.timestamp !== lastTs) seen.push(e.event);
        lastTs = e.timestamp;
      }
      return seen;
    },
  };
}
