/**
 * What the household sees of calls: each PBX call event gets names (phonebook, extension
 * names) and goes out on GatewayEvents together with what it changes — the
 * line's channel states, the recent-calls list, the missed-call count. It also holds the
 * settings the household steers (do-not-disturb) and screens inbound calls (blocklist, DND)
 * before anyone rings. Pure bookkeeping: no sockets, no timers.
 */
import type { Clock } from "./clock.js";
import type { Logger } from "./log.js";
import type { CallEvent, GatewayEvents, LineState } from "./events.js";
import type { CallRecord, MissedCalls } from "./gateway-api.js";
import { CallLog, countsAsMissed, isFinal } from "./call-log.js";
import { LineTracker } from "./line-tracker.js";
import type { Phonebook } from "./phonebook.js";
import type { Blocklist } from "./blocklist.js";
import type { GatewayStateStore, PersistedState } from "./gateway-state-store.js";

export interface CallMonitorOptions {
  events: GatewayEvents;
  clock: Clock;
  log: Logger;
  phonebook: Phonebook;
  blocklist: Blocklist;
  store: GatewayStateStore;
  extensionNames: Map<string, string | undefined>;
  channels: number;
  callsKept: number;
  /** pbx.dnd from the config: the state when nothing was saved yet. */
  dndDefault: boolean;
}

/** A refusal before ringing, in the trunk's terms (a CallFailure). */
export interface Refusal {
  status: number;
  reason: string;
  why: string;
  event: "missed" | "rejected";
}

/** Calls refused before ringing whose `incoming` is held back: bounded, as every per-call set. */
const MAX_SCREENED = 64;

export class CallMonitor {
  private readonly log: CallLog;
  private readonly line: LineTracker;
  private state: PersistedState;
  /** Calls screened out (blocklist, DND): no `incoming` and no ringing line for them. */
  private readonly screened = new Set<string>();

  constructor(private readonly opts: CallMonitorOptions) {
    const now = new Date(opts.clock.now()).toISOString();
    this.log = new CallLog(opts.callsKept);
    this.line = new LineTracker(opts.channels, now);
    this.state = opts.store.load({ dnd: opts.dndDefault, dnd_config: opts.dndDefault, missed: { count: 0, since: now } });
  }

  get dnd(): boolean {
    return this.state.dnd;
  }

  get missed(): MissedCalls {
    return { ...this.state.missed };
  }

  lines(): LineState[] {
    return this.line.states();
  }

  calls(): CallRecord[] {
    return this.log.list();
  }

  setDnd(on: boolean): void {
    if (this.state.dnd === on) return;
    this.state = { ...this.state, dnd: on };
    this.opts.store.save(this.state);
    this.opts.log.info({ dnd: on }, "do-not-disturb changed");
    this.opts.events.emit("dnd", on);
  }

  resetMissed(): void {
    this.state = { ...this.state, missed: { count: 0, since: new Date(this.opts.clock.now()).toISOString() } };
    this.opts.store.save(this.state);
    this.opts.events.emit("missed", this.missed);
  }

  /**
   * The trunk asks before ringing anyone: the blocklist first, then do-not-disturb. With
   * `voicemail` (the answering machine takes this call), do-not-disturb refuses nothing: the
   * machine answers at once instead of the 486.
   */
  screen(caller: string, callId: string, voicemail = false): Refusal | undefined {
    const blocked = this.opts.blocklist.check(caller);
    const refusal: Refusal | undefined = blocked
      ? { ...blocked, event: "rejected" }
      : this.state.dnd && !voicemail
        ? { status: 486, reason: "Busy Here", why: "do not disturb", event: "missed" }
        : undefined;
    if (refusal) {
      if (this.screened.size >= MAX_SCREENED) this.screened.delete(this.screened.values().next().value!);
      this.screened.add(callId);
      this.opts.log.info({ from: caller, why: refusal.why, status: refusal.status }, "inbound call refused before ringing");
    }
    return refusal;
  }

  /** Every call event from the PBX goes through here. */
  onCallEvent(raw: CallEvent): void {
    const ev = this.named(raw);
    const screened = this.screened.has(ev.call_id);
    if (screened && isFinal(ev)) this.screened.delete(ev.call_id);
    if (screened && ev.type === "incoming") {
      this.log.add(ev); // keeps its start time for the call list
      return;
    }
    this.opts.events.emit("call", ev);
    const line = this.line.onCall(ev);
    if (line) this.opts.events.emit("line", line);
    const rec = this.log.add(ev);
    if (!rec) return;
    this.opts.events.emit("calls", this.log.list());
    if (rec.direction === "inbound" && countsAsMissed(rec.result)) {
      this.state = { ...this.state, missed: { ...this.state.missed, count: this.state.missed.count + 1, last: { from: rec.from, from_name: rec.from_name, at: ev.at } } };
      this.opts.store.save(this.state);
      this.opts.events.emit("missed", this.missed);
    }
  }

  /** The name the household gave a number: an extension's, else the phonebook's. */
  nameOf(n: string): string | undefined {
    return this.opts.extensionNames.get(n) ?? this.opts.phonebook.name(n);
  }

  private named(ev: CallEvent): CallEvent {
    const name = (n: string) => this.nameOf(n);
    const out: CallEvent = { ...ev };
    const from = name(ev.from);
    const to = name(ev.to);
    if (from) out.from_name = from;
    if (to) out.to_name = to;
    return out;
  }
}
