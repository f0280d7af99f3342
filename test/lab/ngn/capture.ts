/**
 * tshark capture of the access link for the whole emulator run, and what the trunk tests ask
 * of it afterwards: which SIP methods and responses crossed the link (so "no OPTIONS to the
 * trunk" is a one-line assertion) and which frames Wireshark's dissectors flagged as malformed
 * or with an expert error (so "every message dissected" is too).
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import type { Lab } from "../netns.js";
import { waitForLine } from "../netns.js";

export interface SipFrame {
  frame: number;
  time: number;
  src: string;
  dst: string;
  /** Request method, or undefined for a response. */
  method?: string;
  /** Response status, or undefined for a request. */
  status?: number;
  /** CSeq method (the request a response answers). */
  cseqMethod: string;
  callId: string;
}

export interface ExpertProblem {
  frame: number;
  protocols: string;
  info: string;
}

/**
 * Run tshark on a file. A file still being written ends in a cut-short frame, for which
 * tshark exits 2 after printing everything before it: that output is still good.
 */
function tshark(args: string[]): string {
  try {
    return execFileSync("tshark", args, { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    if (err.status === 2 && typeof err.stdout === "string" && /cut short/.test(err.stderr ?? "")) return err.stdout;
    throw e;
  }
}

export class AccessCapture {
  private child: ChildProcess | null = null;

  constructor(
    private readonly lab: Lab,
    private readonly host: string,
    private readonly ifname: string,
    readonly file: string,
  ) {}

  async start(): Promise<void> {
    this.child = this.lab.spawn(this.host, "tshark", ["-n", "-i", this.ifname, "-w", this.file]);
    // tshark says so on stderr once the interface is open; before that frames would be lost.
    await waitForLine(this.child, /Capturing on/, 15_000, "stderr");
  }

  /** Stop capturing (SIGINT lets tshark flush the file). Safe to call twice. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.kill("SIGKILL");
        resolve();
      }, 5000);
      c.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      c.kill("SIGINT");
    });
  }

  private read(filter: string, fields: string[]): string[][] {
    const out = tshark(["-n", "-r", this.file, "-Y", filter, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f", ...fields.flatMap((f) => ["-e", f])]);
    return out
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => l.split("\t"));
  }

  /** Every SIP message on the link, in order. Readable while the capture still runs. */
  sipFrames(): SipFrame[] {
    return this.read("sip", ["frame.number", "frame.time_relative", "ip.src", "udp.srcport", "ip.dst", "udp.dstport", "sip.Method", "sip.Status-Code", "sip.CSeq.method", "sip.Call-ID"]).map((f) => ({
      frame: Number(f[0]),
      time: Number(f[1]),
      src: `${f[2]}:${f[3]}`,
      dst: `${f[4]}:${f[5]}`,
      // A response carries sip.Method too in some versions (from CSeq): status decides.
      method: f[7] ? undefined : f[6] || undefined,
      status: f[7] ? Number(f[7]) : undefined,
      cseqMethod: f[8] ?? "",
      callId: f[9] ?? "",
    }));
  }

  /** Request methods seen, optionally only those sent to `dst` ("ip" or "ip:port"). */
  sipMethods(dst?: string): string[] {
    return this.sipFrames()
      .filter((f) => f.method !== undefined && (!dst || f.dst === dst || f.dst.startsWith(`${dst}:`)))
      .map((f) => f.method as string);
  }

  /** Frames with a malformed-packet marker or an expert item of severity error. */
  expertErrors(): ExpertProblem[] {
    // PI_ERROR is 0x00800000 in Wireshark's expert.h; _ws.malformed marks dissector exceptions.
    return this.read("_ws.malformed || _ws.expert.severity >= 0x00800000", ["frame.number", "frame.protocols", "_ws.col.Info"]).map((f) => ({
      frame: Number(f[0]),
      protocols: f[1] ?? "",
      info: f[2] ?? "",
    }));
  }

  /**
   * DHCP frames of one message type (2 = OFFER, 5 = ACK), each as field name -> every value
   * tshark decoded for it (fields, not -T json: its JSON repeats keys, which JSON.parse drops).
   */
  dhcpMessages(type: number): Record<string, string[]>[] {
    const fields = DHCP_FIELDS;
    const out = tshark(["-n", "-r", this.file, "-Y", `dhcp.option.dhcp == ${type}`, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|", ...fields.flatMap((f) => ["-e", f])]);
    return out
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => {
        const cols = l.split("\t");
        return Object.fromEntries(fields.map((f, i) => [f, cols[i] ? cols[i].split("|") : []]));
      });
  }
}

const DHCP_FIELDS = [
  "dhcp.ip.your",
  "dhcp.option.type",
  "dhcp.option.router",
  "dhcp.option.sip_server.encoding",
  "dhcp.option.sip_server.address",
  "dhcp.option.classless_static_route",
  "dhcp.option.domain_name_server",
  "dhcp.option.vi.enterprise",
  "dhcp.vendor.suboption",
];
