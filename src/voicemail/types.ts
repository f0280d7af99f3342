/**
 * The answering machine's media and storage engine: the interfaces the call side (the PBX /
 * trunk, which answers the line) codes against. Nothing under src/voicemail imports pbx, trunk,
 * mqtt or the gateway: the call side hands a session a bound UDP socket, the caller's RTP
 * address from its SDP, the negotiated payload types and the limits, and gets the recording
 * back; it then saves it in the store and announces it.
 *
 * What the other files export (classes implementing the interfaces below):
 *   store.ts           `new VoicemailStore({ stateDir, log })`        implements VoicemailStoreApi
 *   greeting-player.ts `new GreetingPlayer(opts)`                      implements GreetingPlayerApi
 *   greeting.ts        `defaultGreeting()`, `beepTone()`, `loadGreeting(path)` (errors name `voicemail.greeting`)
 *   recorder.ts        `new MessageRecorder(opts)`                     implements MessageRecorderApi
 *   session.ts         `new VoicemailSession(opts)`                    implements VoicemailSessionApi
 *   http.ts            `voicemailRoute(store, log, clock)` → HttpRoute; `messageUrlPath(msg)` → "/voicemail/<id>.wav?token=…"
 *
 * Audio inside the engine is always 8 kHz mono signed 16-bit linear PCM (Int16Array):
 * G.711 is decoded on arrival and encoded on sending.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";

/** The audio clock of every stream here: narrowband telephony (G.711, RFC 3551 §4.5.14). */
export const SAMPLE_RATE = 8000;
/** 20 ms of audio at 8 kHz: one RTP packet's worth (RFC 3551 §4.2 default packetization). */
export const SAMPLES_PER_PACKET = 160;
export const PACKET_MS = 20;

// ---------------------------------------------------------------- store (store.ts)

/** One recorded message, as the JSON index keeps it (snake_case: it is published as is). */
export interface VoicemailMessage {
  /** Sortable (time-based) and unique: `<yyyymmddThhmmssZ>-<random hex>`; file names derive from it. */
  id: string;
  /** The caller's number as the line presented it ("" when withheld). */
  from: string;
  /** The caller's name, when the phonebook / display name gave one. */
  name?: string;
  /** When the call was answered, ISO 8601 UTC. */
  started_at: string;
  /** Length of the recording in seconds (0.01 s resolution). */
  duration_s: number;
  /** The WAV's file name inside `<state_dir>/voicemail/` (a base name, never a path). */
  file: string;
  /** 128-bit random, base64url (22 chars): the secret in the message's HTTP URL. */
  token: string;
  /** Set once the audio was fetched over HTTP or played with the CLI. */
  heard: boolean;
}

export interface SaveMessageInput {
  from: string;
  name?: string;
  /** When the call was answered (ms since the epoch, or a Date). */
  startedAt: number | Date;
  /** 8 kHz mono PCM16. */
  samples: Int16Array;
}

/** Limits for prune(); each is off when absent (or <= 0). Oldest messages go first. */
export interface PruneLimits {
  maxMessages?: number;
  maxAgeDays?: number;
  /** Total size of the WAV files in bytes. */
  maxBytes?: number;
}

export interface VoicemailStoreApi {
  /** The directory holding the WAVs and index.json (`<state_dir>/voicemail`). */
  readonly dir: string;
  /** Writes the WAV, then the index (atomically: temp file + rename). */
  save(input: SaveMessageInput): Promise<VoicemailMessage>;
  /** Every message, oldest first. */
  list(): Promise<VoicemailMessage[]>;
  get(id: string): Promise<VoicemailMessage | undefined>;
  /** The WAV file's bytes; undefined for an unknown id or a missing file. */
  read(id: string): Promise<Buffer | undefined>;
  /** Sets `heard` (the HTTP handler and `voicemail play` call it). False for an unknown id. */
  markHeard(id: string): Promise<boolean>;
  /** Removes the message and its file. False for an unknown id. */
  delete(id: string): Promise<boolean>;
  /** Removes the oldest messages until every limit holds; returns the removed ones. */
  prune(limits: PruneLimits): Promise<VoicemailMessage[]>;
  /** Messages not yet heard (Home Assistant's "new messages" count). */
  unheardCount(): Promise<number>;
}

// ---------------------------------------------------------------- sockets

/** Where RTP goes / came from. */
export interface RtpAddress {
  address: string;
  port: number;
}

/** The narrow sending side of a UDP socket (node:dgram's `send(msg, port, address)`), so tests need no network. */
export interface RtpSendSocket {
  send(msg: Buffer, port: number, address: string): void;
}

/** A bound UDP socket as a session uses it: node:dgram's Socket fits, and so does the relay's RelaySocket. */
export interface VoicemailSocket extends RtpSendSocket {
  on(event: "message", listener: (msg: Buffer, rinfo: RtpAddress) => void): unknown;
  off(event: "message", listener: (msg: Buffer, rinfo: RtpAddress) => void): unknown;
}

// ---------------------------------------------------------------- greeting player (greeting-player.ts)

/** The G.711 law a stream carries: PCMU is static payload type 0, PCMA 8 (RFC 3551 table 4). */
export type G711Codec = "PCMU" | "PCMA";

export interface GreetingPlayerOptions {
  socket: RtpSendSocket;
  remote: RtpAddress;
  clock: Clock;
  /** PCMU (PT 0) unless the call negotiated PCMA. */
  codec?: G711Codec;
  /** Injectable for tests: n random bytes (crypto.randomBytes by default). */
  randomBytes?: (n: number) => Buffer;
  log?: Logger;
}

export interface GreetingPlayerApi {
  /** Streams the samples as paced 20 ms RTP packets; resolves when the last one is sent or on stop(). */
  play(samples: Int16Array): Promise<void>;
  /** Stops sending at once; a pending play() resolves. */
  stop(): void;
  /** Sends to another port from now on (symmetric RTP: the caller's packets came from there). */
  setRemote(remote: RtpAddress): void;
  /** Packets sent so far (all plays). */
  readonly packetsSent: number;
}

// ---------------------------------------------------------------- recorder (recorder.ts)

/** Why a recording ended: the caller's BYE, DTMF `#`, the length limit, or long silence. */
export type RecordingEndReason = "hangup" | "dtmf" | "max_length" | "silence";

export interface RecordingLimits {
  /** The longest message, in seconds. */
  maxLengthS: number;
  /** End after this many seconds of continuous silence (0 or absent: never). */
  silenceS?: number;
  /** RMS level (of 32768) below which a 20 ms frame counts as silence; 300 (≈ -40 dBFS) by default. */
  silenceThreshold?: number;
}

export interface MessageRecorderOptions extends RecordingLimits {
  /** The RFC 4733 telephone-event payload type negotiated in SDP (dynamic, 96–127), if any. */
  telephoneEventPt?: number;
  /** Called once when the recording ends by itself (dtmf, max_length, silence); not on finish(). */
  onEnd?: (reason: RecordingEndReason) => void;
  log?: Logger;
  /** For the rate limit of per-datagram log lines. */
  clock?: Clock;
}

export interface RecordingResult {
  samples: Int16Array;
  reason: RecordingEndReason;
  durationS: number;
}

/** Each datagram pushed counts once in accepted, malformed, foreign, late or implausible (while recording). */
export interface RecorderStats {
  /** RTP packets taken into the jitter buffer (audio or telephone-event). */
  accepted: number;
  /** Datagrams that are not valid RTP (bad version, lengths, padding, extension…). */
  malformed: number;
  /** Valid RTP from another SSRC than the first one, or an unexpected payload type. */
  foreign: number;
  /** Duplicates and packets too late for the jitter buffer. */
  late: number;
  /** Valid RTP with a sequence number far off the stream's (RFC 3550 A.1), dropped unless the next packet follows it. */
  implausible: number;
  /** Packets whose audio lay wholly inside what was already written (by timestamp): dropped. */
  overlaps: number;
  /** Gaps whose timestamps claimed more time than passed between the packets' arrivals: filled only with the time that passed. */
  gapsCapped: number;
  /** RFC 4733 events seen, each counted once (its redundant end packets are not new events). */
  dtmfEvents: number;
  /** Samples of silence put in for lost packets. */
  concealedSamples: number;
}

export interface MessageRecorderApi {
  /** One datagram from the network (hostile): never throws; malformed ones are counted. */
  push(datagram: Buffer): void;
  /** Ends the recording (the caller hung up, unless it ended by itself before) and returns it. */
  finish(): RecordingResult;
  /** The reason once ended by itself, undefined while still recording. */
  readonly ended: RecordingEndReason | undefined;
  readonly stats: Readonly<RecorderStats>;
}

// ---------------------------------------------------------------- session (session.ts)

export interface VoicemailSessionOptions extends RecordingLimits {
  /** Bound by the caller (in the relay's port range); its port is in the 200 OK's SDP. */
  socket: VoicemailSocket;
  /** The caller's RTP address/port from its SDP (c= / m=). */
  remote: RtpAddress;
  /** The negotiated audio payload type: 0 (PCMU) or 8 (PCMA). */
  payloadType: 0 | 8;
  telephoneEventPt?: number;
  /** 8 kHz PCM16; the built-in defaultGreeting() when the config names no file. */
  greeting: Int16Array;
  /** Played after the greeting; built-in beepTone() by default. Empty: no beep. */
  beep: Int16Array;
  clock: Clock;
  log: Logger;
}

export interface VoicemailSessionResult extends RecordingResult {
  stats: RecorderStats & {
    /** Datagrams from an address other than the negotiated remote (dropped). */
    droppedSource: number;
    /** Greeting and beep packets sent. */
    packetsSent: number;
  };
}

export interface VoicemailSessionApi {
  /** Plays greeting then beep, records; resolves once the recording ended (any reason). */
  run(): Promise<VoicemailSessionResult>;
  /** The caller's BYE: stop playing, end the recording (reason "hangup" unless it ended already). */
  hangup(): void;
}

// ---------------------------------------------------------------- HTTP (http.ts)

/**
 * A route the LAN-side HTTP listener tries before its own: true when it answered the request
 * (src/provision/http-server.ts takes a list of these).
 */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean;
