/**
 * GatewayEvents: every event the layers report upward, name → payload type, in one map
 * (zigbee2mqtt's EventBusMap). The PBX, trunk and DHCP emit; MQTT and the control socket
 * listen. A listener that throws is logged, never propagated to the emitter.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "./log.js";

export type CallDirection = "internal" | "inbound" | "outbound";

/** docs/design.md "Events" (`call`), published on `<base>/event` ("MQTT"). */
export interface CallEvent {
  type: "incoming" | "answered" | "missed" | "ended" | "outgoing" | "rejected";
  call_id: string;
  direction: CallDirection;
  from: string;
  to: string;
  extension?: string;
  duration_s?: number;
  reason?: string;
  at: string;
}

export interface ExtensionState {
  number: string;
  registered: boolean;
  contact?: string;
  user_agent?: string;
  expires_at?: string;
}

export interface TrunkState {
  state: "disabled" | "acquiring" | "registering" | "registered" | "failed";
  number?: string;
  domain?: string;
  server?: string;
  expires_at?: string;
  last_error?: string;
}

export interface LineState {
  state: "idle" | "ringing" | "dialing" | "talking";
  caller?: string;
  called?: string;
  extension?: string;
  since: string;
}

export interface GatewayEventMap {
  call: [CallEvent];
  extension: [ExtensionState];
  trunk: [TrunkState];
  line: [LineState];
}

export class GatewayEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly log: Logger) {
    this.emitter.setMaxListeners(50);
  }

  emit<K extends keyof GatewayEventMap>(name: K, ...args: GatewayEventMap[K]): void {
    this.emitter.emit(name, ...args);
  }

  on<K extends keyof GatewayEventMap>(name: K, listener: (...args: GatewayEventMap[K]) => void): () => void {
    const wrapped = (...args: GatewayEventMap[K]) => {
      try {
        listener(...args);
      } catch (err) {
        this.log.error({ err, event: name }, "event listener failed");
      }
    };
    this.emitter.on(name, wrapped as (...a: unknown[]) => void);
    return () => this.emitter.off(name, wrapped as (...a: unknown[]) => void);
  }
}
