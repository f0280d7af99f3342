/**
 * What the control socket's requests do (`hikari-gw status`, `unblock`, `phone`, `calls`, `dial`, and
 * the same GatewayCommands MQTT calls). The socket itself (src/control.ts) parses and answers;
 * this maps each request onto the gateway's parts, which it sees only through this narrow view.
 */
import type { ControlHandler } from "./control.js";
import type { Logger } from "./log.js";
import type { Clock } from "./clock.js";
import { CommandError, type GatewayCommands, type GatewayStatus } from "./gateway-api.js";
import { DIAL_NUMBER } from "./dial-number.js";
import type { CallMonitor } from "./call-monitor.js";
import type { Lockout } from "./pbx/lockout.js";
import type { PhoneManager } from "./provision/phones.js";

export interface ControlTargets {
  readonly log: Logger;
  readonly clock: Clock;
  readonly monitor: CallMonitor;
  readonly commands: GatewayCommands;
  phones(): PhoneManager | undefined;
  lockout(): Lockout | undefined;
  /** Reads fresh figures that take a subprocess (WireGuard handshakes) before a status. */
  refresh(): Promise<void>;
  status(opts: { collect?: boolean }): GatewayStatus;
}

export function controlHandler(t: ControlTargets): ControlHandler {
  return async (req) => {
    if (req.command === "phone-add" || req.command === "phone-remove" || req.command === "phone-list") {
      const phones = t.phones();
      if (!phones) throw new Error("phones are unavailable on this gateway (see its log)");
      if (req.command === "phone-list") return { phones: phones.list() };
      if (req.command === "phone-remove") return phones.remove(req.name);
      return phones.add(req.name, req.extension);
    }
    switch (req.command) {
      case "unblock": {
        const lifted = t.lockout()?.unblock(req.target) ?? [];
        t.log.warn({ target: req.target, lifted: lifted.length }, "authentication locks lifted by hand");
        const now = t.clock.now();
        return { target: req.target, lifted: lifted.map((l) => ({ address: l.address, extension: l.extension, remaining_s: Math.ceil((l.until - now) / 1000) })) };
      }
      case "calls":
        return t.monitor.calls();
      case "dnd":
        t.commands.setDnd(req.value);
        return { dnd: t.monitor.dnd };
      case "hangup":
        return { hung_up: t.commands.hangup(req.call_id) };
      case "dial": {
        if (!DIAL_NUMBER.test(req.number)) throw new CommandError("dial: the number must be digits (optionally + * # and separators)");
        return t.commands.dial(req.extension === undefined ? { number: req.number } : { number: req.number, extension: req.extension });
      }
      case "missed_reset":
        t.commands.resetMissed();
        return { missed: t.monitor.missed };
      default:
        await t.refresh();
        return t.status({ collect: req.gc === true });
    }
  };
}
