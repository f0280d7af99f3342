/**
 * One answered call's media: the greeting, the beep, then the caller's message. The call side
 * binds the UDP socket (in the relay's port range; its port is in our SDP answer), hands it over
 * with the caller's RTP address from its SDP, and gets the recording back from run(). The socket
 * stays the caller's to close.
 *
 * Only datagrams from the caller's SDP address are looked at. The port is latched from the first
 * valid RTP packet from that address (symmetric RTP, RFC 4961 §4: a peer behind NAT or an SBC may
 * send from another port than its SDP names); the greeting is then sent there too. Everything
 * else is dropped and counted, never logged per packet.
 *
 * States: idle → greeting (greeting + beep) → recording → done; hangup() or the recording's own
 * end lead to done from any state, once.
 */
import type { Logger } from "../log.js";
import type { Clock } from "../clock.js";
import { GreetingPlayer } from "./greeting-player.js";
import { MessageRecorder, checkRecorderOptions } from "./recorder.js";
import { parseRtp } from "./rtp.js";
import { PT_PCMA, PT_PCMU } from "./g711.js";
import type { RecordingLimits, RtpAddress, VoicemailSessionApi, VoicemailSessionOptions, VoicemailSessionResult, VoicemailSocket } from "./types.js";

type State = "idle" | "greeting" | "recording" | "done";

/** "::ffff:198.18.0.1" (a dual-stack socket's view of IPv4) and "198.18.0.1" are one address. */
function plainAddress(a: string): string {
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

export class VoicemailSession implements VoicemailSessionApi {
  private state: State = "idle";
  private readonly socket: VoicemailSocket;
  private readonly remoteAddress: string;
  private readonly sdpPort: number;
  private latchedPort: number | undefined;
  private readonly player: GreetingPlayer;
  private recorder: MessageRecorder | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly limits: RecordingLimits;
  private readonly opts: VoicemailSessionOptions;
  private droppedSource = 0;
  private resolveRun: ((r: VoicemailSessionResult) => void) | undefined;
  private result: VoicemailSessionResult | undefined;
  private readonly onMessage = (msg: Buffer, rinfo: RtpAddress): void => this.receive(msg, rinfo);

  constructor(opts: VoicemailSessionOptions) {
    if (opts.payloadType !== PT_PCMU && opts.payloadType !== PT_PCMA) throw new RangeError(`voicemail: payload type ${String(opts.payloadType)} is not G.711 (0 or 8)`);
    this.opts = opts;
    this.socket = opts.socket;
    this.remoteAddress = plainAddress(opts.remote.address);
    this.sdpPort = opts.remote.port;
    this.clock = opts.clock;
    this.log = opts.log.child({ module: "voicemail.session" });
    this.limits = { maxLengthS: opts.maxLengthS, silenceS: opts.silenceS, silenceThreshold: opts.silenceThreshold };
    // Checked now, not after the greeting: a bad limit is the config's fault and must show at once.
    checkRecorderOptions({ ...this.limits, telephoneEventPt: opts.telephoneEventPt });
    this.player = new GreetingPlayer({ socket: opts.socket, remote: { address: this.remoteAddress, port: this.sdpPort }, clock: opts.clock, codec: opts.payloadType === PT_PCMA ? "PCMA" : "PCMU", log: opts.log });
  }

  run(): Promise<VoicemailSessionResult> {
    if (this.state !== "idle") return this.result !== undefined ? Promise.resolve(this.result) : Promise.reject(new Error("voicemail session already running"));
    const done = new Promise<VoicemailSessionResult>((resolve) => (this.resolveRun = resolve));
    this.socket.on("message", this.onMessage);
    this.state = "greeting";
    this.log.debug({ remote: `${this.remoteAddress}:${this.sdpPort}`, greeting_s: this.opts.greeting.length / 8000 }, "voicemail: greeting");
    void this.player
      .play(this.opts.greeting)
      .then(() => (this.state === "greeting" ? this.player.play(this.opts.beep) : undefined))
      .then(() => this.startRecording());
    return done;
  }

  hangup(): void {
    if (this.state === "done") return;
    if (this.state === "idle") {
      this.state = "done";
      this.result = this.makeResult(undefined);
      return;
    }
    this.finish();
  }

  private startRecording(): void {
    if (this.state !== "greeting") return;
    this.state = "recording";
    this.recorder = new MessageRecorder({
      ...this.limits,
      telephoneEventPt: this.opts.telephoneEventPt,
      clock: this.clock,
      log: this.opts.log,
      onEnd: () => this.finish(),
    });
  }

  private receive(msg: Buffer, rinfo: RtpAddress): void {
    if (this.state !== "greeting" && this.state !== "recording") return;
    if (plainAddress(rinfo.address) !== this.remoteAddress) {
      this.droppedSource++;
      return;
    }
    if (this.latchedPort === undefined) {
      // Latch only on a packet that is valid RTP of this call (not RTCP, not junk) from the SDP address.
      const pkt = parseRtp(msg);
      const pt = pkt?.payloadType;
      if (pkt === null || (pt !== this.opts.payloadType && pt !== this.opts.telephoneEventPt)) {
        this.droppedSource++;
        return;
      }
      this.latchedPort = rinfo.port;
      if (rinfo.port !== this.sdpPort) {
        this.player.setRemote({ address: this.remoteAddress, port: rinfo.port });
        this.log.info({ sdp_port: this.sdpPort, port: rinfo.port }, "voicemail: caller sends from another port than its SDP; answering there (symmetric RTP)");
      }
    } else if (rinfo.port !== this.latchedPort) {
      this.droppedSource++;
      return;
    }
    // During the greeting the caller's audio is not part of the message.
    if (this.state === "recording") this.recorder!.push(msg);
  }

  private finish(): void {
    if (this.state === "done") return;
    this.state = "done";
    this.socket.off("message", this.onMessage);
    this.player.stop();
    this.result = this.makeResult(this.recorder);
    this.log.info({ reason: this.result.reason, duration_s: this.result.durationS, ...this.result.stats }, "voicemail: recording ended");
    this.resolveRun?.(this.result);
  }

  private makeResult(rec: MessageRecorder | undefined): VoicemailSessionResult {
    const r = rec?.finish() ?? { samples: new Int16Array(0), reason: "hangup" as const, durationS: 0 };
    const st = rec?.stats ?? { accepted: 0, malformed: 0, foreign: 0, late: 0, implausible: 0, overlaps: 0, gapsCapped: 0, dtmfEvents: 0, concealedSamples: 0 };
    return { ...r, stats: { ...st, droppedSource: this.droppedSource, packetsSent: this.player.packetsSent } };
  }
}
