/**
 * The config as the gateway runs it: the YAML's extensions plus the phones in state_dir
 * (`check-config` prints this, so what the PBX accepts is visible in one place).
 */
import type { Config } from "../config/schema.js";
import { loadPhones } from "./phone-store.js";
import { mergeExtensions } from "./merge.js";

export function withPhones(cfg: Config): Config {
  const { extensions } = mergeExtensions(cfg.extensions, loadPhones(cfg.state_dir));
  return { ...cfg, extensions: extensions.map(({ source, ...e }) => (source === "phone" ? { ...e, name: `${e.name ?? e.number} (phone add)` } : e)) };
}
