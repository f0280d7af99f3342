/**
 * The security policy the config asks for, turned into what the layers take: who may reach
 * the LAN SIP listener (lan.allow), the PBX's transfer switch and toll-fraud limits, and the
 * configuration warnings logged at start. Kept out of gateway.ts so the composition root
 * only wires.
 */
import type { Config } from "./config/schema.js";
import type { Logger } from "./log.js";
import { configWarnings } from "./config/warnings.js";
import { AllowList, defaultLanNetworks } from "./net/allow-list.js";
import type { PbxOptions } from "./pbx/pbx.js";

/** lan.allow, or the default (the LAN interfaces' subnets and loopback, never the WAN's). */
export function lanAllowList(cfg: Config, log: Logger): AllowList {
  const networks = cfg.lan.allow ?? defaultLanNetworks(cfg.lan.listen, cfg.wan.interface);
  log.info({ networks, configured: cfg.lan.allow !== undefined }, "lan.allow: sources that may reach the LAN SIP listener (others are dropped and counted)");
  return new AllowList(networks);
}

export function pbxPolicy(cfg: Config): Pick<PbxOptions, "allowTransfer" | "limits"> {
  const p = cfg.pbx;
  return {
    allowTransfer: p.allow_transfer,
    limits: {
      perExtension: p.max_calls_per_extension,
      total: p.max_calls,
      maxCallMs: p.max_call_s * 1000,
      allowInternational: p.allow_international,
      premiumPrefixes: p.premium_prefixes,
    },
  };
}

/** Weak passwords and the like: a warning each at start (check-config prints the same). */
export function logConfigWarnings(cfg: Config, log: Logger): void {
  for (const w of configWarnings(cfg)) log.warn({ key: w.path }, `configuration: ${w.message}`);
}
