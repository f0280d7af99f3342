/**
 * The answering machine wired into the gateway: the machine (a fork of inbound line calls,
 * src/pbx/answering/) with its RTP sockets from the relay's port range and a voicemail
 * session per call; the store its messages go to, pruned by the `voicemail:` limits; the
 * `voicemail` event (the phonebook's name, the message's URL on the LAN-side HTTP listener)
 * and the box Home Assistant's "new messages" sensor shows; and the HTTP route that serves
 * the recordings. Built only with `voicemail.enabled`.
 */
import type { Config } from "./config/schema.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { Logger } from "./log.js";
import type { GatewayEvents, VoicemailBox } from "./events.js";
import type { MediaRelay } from "./media/relay.js";
import { AnsweringMachine } from "./pbx/answering/answering-machine.js";
import type { Recording } from "./pbx/answering/answering-call.js";
import { VoicemailStore } from "./voicemail/store.js";
import { VoicemailSession } from "./voicemail/session.js";
import { beepTone, defaultGreeting, loadGreeting } from "./voicemail/greeting.js";
import { messageUrlPath, voicemailRoute } from "./voicemail/http.js";
import type { HttpRoute, PruneLimits, VoicemailMessage, VoicemailStoreApi } from "./voicemail/types.js";

export interface GatewayVoicemailOptions {
  config: Config;
  /** The relay's port range (only its bindEndpoint). */
  relay: Pick<MediaRelay, "bindEndpoint">;
  clock: Clock;
  log: Logger;
  events: GatewayEvents;
  /** The phonebook's (or an extension's) name for a number. */
  nameOf: (number: string) => string | undefined;
  /** `http://host:port` of the LAN-side HTTP listener, unless `voicemail.base_url` says otherwise. */
  httpBase: string;
}

/** The CLI (`hikari-gw voicemail play|delete`, another process) changes the box too: look again this often. */
const REFRESH_MS = 60_000;

export class GatewayVoicemail {
  readonly machine: AnsweringMachine;
  readonly store: VoicemailStoreApi;
  private box: VoicemailBox = { new: 0, total: 0 };
  private refreshTimer?: TimerHandle;
  private closed = false;
  private readonly log: Logger;
  private readonly limits: PruneLimits;
  private readonly baseUrl: string;

  private constructor(
    private readonly opts: GatewayVoicemailOptions,
    greeting: Int16Array,
  ) {
    const vm = opts.config.voicemail;
    const log = (this.log = opts.log);
    this.limits = { maxMessages: vm.max_messages, maxAgeDays: vm.max_age_days, maxBytes: Math.round(vm.max_mb * 1024 * 1024) };
    this.baseUrl = (vm.base_url ?? opts.httpBase).replace(/\/+$/, "");
    // The HTTP route marks a message heard: the box (and Home Assistant's count) follows.
    this.store = withChangeHook(new VoicemailStore({ stateDir: opts.config.state_dir, log, now: () => opts.clock.now() }), () => void this.refresh());
    const beep = vm.beep ? beepTone() : new Int16Array(0);
    this.machine = new AnsweringMachine({
      clock: opts.clock,
      log: log.child({ name: "voicemail.call" }),
      answerAfterMs: vm.answer_after_s * 1000,
      numbers: vm.numbers,
      bindMedia: async (address) => {
        const ep = await opts.relay.bindEndpoint(address);
        return { socket: ep.socket, port: ep.port, close: () => ep.release() };
      },
      startSession: (s) => new VoicemailSession({ ...s, greeting, beep, maxLengthS: vm.max_message_s, silenceS: vm.silence_s, clock: opts.clock }),
      onRecording: (rec) =>
        void this.saveMessage(rec).catch((err: unknown) => log.error({ err, from: rec.from }, "voicemail: the message could not be saved")),
    });
  }

  /** Loads the greeting (`voicemail.greeting`; the built-in one when absent or unreadable) and the box. */
  static async create(opts: GatewayVoicemailOptions): Promise<GatewayVoicemail> {
    const path = opts.config.voicemail.greeting;
    let greeting = defaultGreeting();
    if (path) {
      try {
        greeting = await loadGreeting(path);
      } catch (err) {
        opts.log.error({ err, key: "voicemail.greeting", file: path }, "voicemail.greeting unusable: the built-in greeting plays instead");
      }
    }
    const gv = new GatewayVoicemail(opts, greeting);
    await gv.refresh();
    gv.log.info({ answer_after_s: opts.config.voicemail.answer_after_s, numbers: opts.config.voicemail.numbers ?? "all", messages: gv.box.total, new: gv.box.new }, "answering machine on");
    return gv;
  }

  /** Whether it answers calls to `called` (DND then answers instead of refusing). */
  answers(called: string): boolean {
    return this.machine.answers(called);
  }

  get status(): VoicemailBox {
    return this.box;
  }

  /** The HTTP route for `GET /voicemail/<id>.wav?token=…` on the LAN-side listener. */
  route(): HttpRoute {
    return voicemailRoute({ store: this.store, log: this.log, clock: this.opts.clock });
  }

  private url(msg: Pick<VoicemailMessage, "id" | "token">): string {
    return `${this.baseUrl}${messageUrlPath(msg)}`;
  }

  /** A finished recording: into the store (pruned), out as the `voicemail` event, the box refreshed. */
  async saveMessage(rec: Recording): Promise<void> {
    const name = this.opts.nameOf(rec.from) ?? rec.name;
    const msg = await this.store.save({ from: rec.from, name, startedAt: rec.startedAt, samples: rec.result.samples });
    this.log.info({ id: msg.id, from: msg.from, duration_s: msg.duration_s, reason: rec.result.reason }, "voicemail: new message");
    await this.store.prune(this.limits);
    this.opts.events.emit("voicemail", {
      type: "voicemail",
      id: msg.id,
      call_id: rec.callId,
      from: msg.from,
      ...(msg.name !== undefined ? { name: msg.name } : {}),
      to: rec.called,
      duration_s: msg.duration_s,
      file: msg.file,
      url: this.url(msg),
      reason: rec.result.reason,
      at: msg.started_at,
    });
    await this.refresh();
  }

  /** Every message heard (Home Assistant's button, the `voicemail_heard` command): how many were new. */
  markAllHeard(): number {
    const n = this.box.new;
    void (async () => {
      for (const m of await this.store.list()) if (!m.heard) await this.store.markHeard(m.id);
      await this.refresh();
    })().catch((err: unknown) => this.log.error({ err }, "voicemail: marking messages heard failed"));
    return n;
  }

  /** Reads the box again; publishes it when it changed. Re-armed every REFRESH_MS. */
  async refresh(): Promise<void> {
    this.opts.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (this.closed) return;
    try {
      const list = await this.store.list();
      const last = list.at(-1);
      const box: VoicemailBox = {
        new: list.filter((m) => !m.heard).length,
        total: list.length,
        ...(last
          ? { last: { id: last.id, from: last.from, ...(last.name !== undefined ? { name: last.name } : {}), duration_s: last.duration_s, file: last.file, url: this.url(last), at: last.started_at, heard: last.heard } }
          : {}),
      };
      if (JSON.stringify(box) !== JSON.stringify(this.box)) {
        this.box = box;
        this.opts.events.emit("voicemail_box", box);
      }
    } catch (err) {
      this.log.warn({ err }, "voicemail: the message index could not be read");
    }
    if (!this.closed) this.refreshTimer = this.opts.clock.setTimeout(() => void this.refresh(), REFRESH_MS);
  }

  close(): void {
    this.closed = true;
    this.opts.clock.clearTimeout(this.refreshTimer);
    this.machine.close();
  }
}

/** The store, with `changed` called after each markHeard and delete. */
function withChangeHook(store: VoicemailStoreApi, changed: () => void): VoicemailStoreApi {
  return {
    dir: store.dir,
    save: (input) => store.save(input),
    list: () => store.list(),
    get: (id) => store.get(id),
    read: (id) => store.read(id),
    markHeard: async (id) => {
      const ok = await store.markHeard(id);
      if (ok) changed();
      return ok;
    },
    delete: async (id) => {
      const ok = await store.delete(id);
      if (ok) changed();
      return ok;
    },
    prune: (limits) => store.prune(limits),
    unheardCount: () => store.unheardCount(),
  };
}
