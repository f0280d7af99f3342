/**
 * The PBX as the gateway builds it, for the PBX's and the trunk's unit tests: registrar
 * (digest, lockout, bindings store in a temp dir), auth, dialplan and Pbx on the in-memory
 * network, with TestPhones that the rig closes for the test. Time is a ManualClock: nothing
 * sleeps; settle(), until() and run() move fake time on and let the network deliver. Tests vary
 * the clock's start, extensions, dialplan, media and ring timeout.
 * call-rig.ts is the lighter bench for one Call without any of this.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../../src/clock.js";
import { silentLogger, type Logger } from "../../../src/log.js";
import type { CallEvent } from "../../../src/events.js";
import type { Endpoint, SipRequest, SipResponse } from "../../../src/sip/message/types.js";
import { createMemoryNetwork, type MemoryNetwork } from "../../../src/sip/transport.js";
import { TransactionLayer } from "../../../src/sip/transaction/layer.js";
import { DigestServer } from "../../../src/sip/digest.js";
import { BindingsStore } from "../../../src/pbx/bindings-store.js";
import { Registrar } from "../../../src/pbx/registrar.js";
import { Lockout } from "../../../src/pbx/lockout.js";
import { ExtensionAuth, type Extension } from "../../../src/pbx/auth.js";
import { Dialplan, type DialplanRule } from "../../../src/pbx/dialplan.js";
import { Pbx, type PbxOptions } from "../../../src/pbx/pbx.js";
import { passThroughMedia, type CallMediaFactory } from "../../../src/pbx/call-media.js";
import { TestPhone } from "./phone.js";

/** The gateway's LAN side, where phones register and call. */
export const GW = { address: "198.18.0.1", port: 5060 };

export const EXT_801: Extension = { number: "801", password: "secret801" };
export const EXT_802: Extension = { number: "802", password: "secret802" };

/** Calls between extensions only. */
export const EXTENSION_PLAN: DialplanRule[] = [{ match: "^80[1-9]$", to: "extension" }];
/** National numbers out via the trunk only. */
export const TRUNK_PLAN: DialplanRule[] = [{ match: "^0[0-9]+$", to: "trunk" }];

export interface PbxRigOptions {
  /** The rig's fake time; default a ManualClock at 1,000,000 ms. */
  clock?: ManualClock;
  /** Default 801 and 802 (no names). */
  extensions?: Extension[];
  /** Default EXTENSION_PLAN. */
  dialplan?: DialplanRule[];
  /** Default passThroughMedia. */
  media?: CallMediaFactory;
  /** Default 60 s. */
  ringTimeoutMs?: number;
  /** Lockout limits; default Lockout's own. */
  lockout?: { maxFailures: number; lockMs: number };
  /** pbx.allow_transfer; default false. */
  allowTransfer?: boolean;
  /** PbxOptions.limits; default the PBX's own. */
  limits?: PbxOptions["limits"];
  /** settle()'s default step of fake time, ms. Default 100. */
  settleStepMs?: number;
  /** Further Pbx options (bounds). */
  pbxOptions?: Partial<PbxOptions>;
}

/** until() and run(): fake time moves on this many ms at a time between deliveries. */
const WAIT_STEP_MS = 5;

export class PbxRig {
  readonly clock: ManualClock;
  readonly net: MemoryNetwork;
  readonly log: Logger;
  readonly gwTx: TransactionLayer;
  readonly registrar: Registrar;
  readonly auth: ExtensionAuth;
  readonly pbx: Pbx;
  /** Every CallEvent the PBX reported, in order. */
  readonly events: CallEvent[] = [];
  private readonly dir: string;
  private readonly settleStepMs: number;
  private readonly layers: TransactionLayer[] = [];

  constructor(o: PbxRigOptions = {}) {
    const clock = (this.clock = o.clock ?? new ManualClock(1_000_000));
    this.settleStepMs = o.settleStepMs ?? 100;
    this.net = createMemoryNetwork({ now: () => clock.now() });
    this.dir = mkdtempSync(join(tmpdir(), "hgw-rig-"));
    const log = (this.log = silentLogger());
    this.gwTx = this.track(new TransactionLayer({ transport: this.net.transport(GW), log, clock }));
    const extensions = o.extensions ?? [EXT_801, EXT_802];
    const digest = new DigestServer({ realm: "test", clock });
    const lockout = new Lockout({ clock, log, ...o.lockout });
    this.auth = new ExtensionAuth({ extensions, digest, lockout, log, clock });
    const store = new BindingsStore({ stateDir: this.dir, clock, log });
    this.registrar = new Registrar({ auth: this.auth, extensions, realm: "test", store, clock, log, digest, lockout });
    this.pbx = new Pbx({
      tx: this.gwTx, registrar: this.registrar, auth: this.auth, extensions, clock, log,
      dialplan: new Dialplan(o.dialplan ?? EXTENSION_PLAN),
      media: o.media ?? passThroughMedia,
      localHost: GW.address, localPort: GW.port, ringTimeoutMs: o.ringTimeoutMs ?? 60_000,
      onCallEvent: (ev) => this.events.push(ev),
      allowTransfer: o.allowTransfer,
      limits: o.limits,
      ...o.pbxOptions,
    });
  }

  /** A phone at `at` (port 5060 when only an address is given) registering to the gateway; closed by close(). */
  addPhone(at: Endpoint | string, number: string, password = `secret${number}`): TestPhone {
    const local = typeof at === "string" ? { address: at, port: 5060 } : at;
    const p = new TestPhone(this.net, local, number, password, GW, this.clock);
    this.track(p.tx);
    return p;
  }

  /** Close `tx` with the rig. */
  track<T extends TransactionLayer>(tx: T): T {
    this.layers.push(tx);
    return tx;
  }

  /** Deliver what is in flight, then run `ms` of fake time in steps, delivering after each (bounded). */
  async settle(ms = 0, step = this.settleStepMs): Promise<void> {
    await this.net.flush();
    for (let t = 0, i = 0; t < ms && i < 100_000; t += step, i++) {
      this.clock.advance(Math.min(step, ms - t));
      await this.net.flush();
    }
    await this.net.flush();
  }

  /**
   * Wait until `cond` holds: deliver what is in flight, and only while it does not hold move
   * fake time on in small steps (so timers fire about when they would have), delivering after
   * each. Bounded by `ms` of fake time; throws if it never holds.
   */
  async until(cond: () => boolean, ms = 2000): Promise<void> {
    await this.net.flush();
    for (let t = 0; !cond(); t += WAIT_STEP_MS) {
      if (t >= ms) throw new Error(`condition not met within ${ms} ms of fake time`);
      this.clock.advance(WAIT_STEP_MS);
      await this.net.flush();
    }
  }

  /** `p`'s result, moving fake time on (as until()) while it is pending: a call that ends on a timer. */
  async run<T>(p: Promise<T>, ms = 10_000): Promise<T> {
    let settled = false;
    void p.then(
      () => (settled = true),
      () => (settled = true),
    );
    await this.until(() => settled, ms);
    return p;
  }

  async close(): Promise<void> {
    this.pbx.close();
    await this.registrar.close();
    for (const t of this.layers.splice(0)) t.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

