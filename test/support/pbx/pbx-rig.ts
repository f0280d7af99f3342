/**
 * The PBX as the gateway builds it, for the PBX's and the trunk's unit tests: registrar
 * (digest, lockout, bindings store in a temp dir), auth, dialplan and Pbx on the in-memory
 * network, with TestPhones that the rig closes for the test. Tests vary the clock (real
 * time, or a ManualClock that settle() drives), extensions, dialplan, media and ring timeout.
 * test-call-rig.ts is the lighter bench for one Call without any of this.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, systemClock, type Clock } from "../../../src/clock.js";
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
  /** systemClock (default) for tests that wait with until(); a ManualClock for settle(). */
  clock?: Clock;
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
}

export class PbxRig {
  readonly clock: Clock;
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
    const clock = (this.clock = o.clock ?? systemClock);
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
    if (!(this.clock instanceof ManualClock)) throw new Error("settle() needs a ManualClock");
    await this.net.flush();
    for (let t = 0, i = 0; t < ms && i < 100_000; t += step, i++) {
      this.clock.advance(Math.min(step, ms - t));
      await this.net.flush();
    }
    await this.net.flush();
  }

  async close(): Promise<void> {
    this.pbx.close();
    await this.registrar.close();
    for (const t of this.layers.splice(0)) t.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

