/**
 * The gateway's call path for the trunk's unit tests: the PBX rig (pbx-rig.ts) with a Trunk
 * set on it and a FakeNgn at the far end of the WAN, all on the rig's ManualClock. The WAN is
 * the in-memory network, or real loopback sockets where a test needs a datagram to leave
 * before a socket closes (those deliver on real I/O turns, which until() and run() give).
 */
import { silentLogger } from "../../../src/log.js";
import type { TrunkState } from "../../../src/events.js";
import type { Transport } from "../../../src/sip/transport.js";
import { UdpTransport } from "../../../src/sip/transport-udp.js";
import { PbxRig, TRUNK_PLAN, type PbxRigOptions } from "../pbx/pbx-rig.js";
import { DRAIN_MS, Trunk, type TrunkLine, type TrunkOptions } from "../../../src/trunk/trunk.js";
import { DOMAIN, FakeNgn, NGN, WAN, type FakeNgnOptions } from "./fake-ngn.js";

export { DOMAIN, NGN, NGN_SDP, WAN } from "./fake-ngn.js";

/** The line as the lease and the NGN's DHCP options give it (docs/ngn.md "DHCP"). */
export const LINE: TrunkLine = { localAddress: WAN.address, server: NGN.address, domain: DOMAIN, number: "0312345678", additionalNumbers: [] };

export interface GatewayRigOptions extends PbxRigOptions {
  /** The line's channels; default 1. */
  channels?: number;
  /** Do Not Disturb, read at each inbound call; default off. */
  dnd?: () => boolean;
  /** Screens inbound callers before ringing (the gateway's blocklist); none by default. */
  screen?: TrunkOptions["screen"];
  /** The answering machine; none by default. */
  answering?: TrunkOptions["answering"];
  ngn?: FakeNgnOptions;
  /** Put the NGN on a real UDP socket at this loopback address; the trunk then opens real sockets too. */
  udpNgn?: string;
}

export class GatewayRig extends PbxRig {
  /** Every state the trunk reported (copies: the trunk may reuse its object). */
  readonly states: TrunkState[] = [];
  readonly trunk: Trunk;
  readonly ngn: FakeNgn;

  private readonly ngnTransport: Transport;

  /** `udp`: the NGN's bound socket, when it is not on the in-memory network. */
  private constructor(o: GatewayRigOptions, udp: Transport | undefined) {
    // The dialplan sends national numbers to the trunk.
    super({ dialplan: TRUNK_PLAN, ...o });
    const ngnTransport = (this.ngnTransport = udp ?? this.net.transport(NGN));
    this.ngn = new FakeNgn(ngnTransport, this.clock, o.ngn);
    this.track(this.ngn.tx);
    this.trunk = new Trunk({
      pbx: this.pbx, clock: this.clock, log: this.log,
      serverPort: ngnTransport.local.port, localPort: udp ? 0 : 5060,
      registerExpires: 3600, refreshRatio: 0.45, channels: o.channels ?? 1, sessionExpires: 300,
      ring: ["801"], ringByNumber: {}, callerIdOf: () => undefined, dnd: o.dnd ?? (() => false), screen: o.screen, answering: o.answering,
      onState: (s) => this.states.push({ ...s }),
      openTransport: udp
        ? undefined
        : async (local, accept) => {
            const t = this.net.transport(local);
            t.accept = accept;
            return t;
          },
    });
    this.pbx.setTrunk(this.trunk);
  }

  static async create(o: GatewayRigOptions = {}): Promise<GatewayRig> {
    const udp = o.udpNgn === undefined ? undefined : await UdpTransport.bind({ address: o.udpNgn, port: 0, log: silentLogger() });
    return new GatewayRig(o, udp);
  }

  /** Bring the line up and wait (bounded, on fake time) until it is registered. */
  async registerLine(line: TrunkLine = LINE): Promise<void> {
    await this.trunk.configure(line);
    await this.until(() => this.trunk.status.state === "registered");
  }

  override async close(): Promise<void> {
    this.pbx.close();
    // A drain left running by a test (an unanswered BYE) ends on fake time too.
    this.clock.advance(DRAIN_MS);
    await this.trunk.stop().catch(() => undefined);
    await super.close();
    await this.ngnTransport.close();
  }
}
