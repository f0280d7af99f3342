#!/usr/bin/env node
/**
 * The command line (docs/design.md "Command line"): argument parsing only; each command lives
 * with its layer and is loaded on demand so `check-config` never opens a socket.
 */
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { createRootLogger, type LogLevel } from "./log.js";
import type { OffloadMode } from "./media/relay.js";

const DEFAULT_CONFIG = "/etc/hikari-gw/config.yaml";
/** The config's state_dir default: where a gateway run without it keeps its control socket. */
const DEFAULT_STATE_DIR = "/var/lib/hikari-gw";

const HELP = `hikari-gw — home telephony gateway for NTT FLET'S Hikari Denwa

Usage:
  hikari-gw run [--config FILE] [--log-level LEVEL]   run the gateway (default config ${DEFAULT_CONFIG})
  hikari-gw check-config [--config FILE]              validate; print the effective config, secrets masked
  hikari-gw dhcp --interface IF [--json] [--keep] [--mac MAC]
                                                      take a DHCP lease on IF, print it, release it unless --keep
  hikari-gw relay --sessions N [--listen ADDR] [--offload auto|nftables|none] [--ports MIN-MAX]
                                                      media relay benchmark mode (prints port pairs as JSON)
  hikari-gw status [--state-dir DIR | --config FILE] [--json] [--gc]
                                                      ask the running gateway for trunk, extensions, calls, memory
                                                      (its control socket in DIR, default ${DEFAULT_STATE_DIR}; --json: all of it as JSON;
                                                      --gc: full GC first, when node runs with --expose-gc)
  hikari-gw calls [--json]                            the recent calls (newest first) from the running gateway
  hikari-gw events [--json]                           follow the gateway's events live (calls, line, DND...) until Ctrl-C
  hikari-gw dial NUMBER [--extension N]               click-to-dial: ring extension N (default mqtt.dial_extension, else the
                                                      only one); when it answers, it calls NUMBER through the dialplan
  hikari-gw unblock ADDR|EXT [--config FILE]          lift the authentication locks of an address or an extension
  hikari-gw phone add NAME [--extension N]            add a phone: extension, WireGuard peer, QR codes to scan
  hikari-gw phone list | phone remove NAME            list the phones added; remove one (tunnel and extension, live)
  hikari-gw voicemail list [--json] [--state-dir DIR | --config FILE]
                                                      the answering machine's messages, newest first
  hikari-gw voicemail play ID [--out FILE]            write a message's WAV to FILE or stdout (ID: any unique prefix)
  hikari-gw voicemail delete ID                       delete a message
  hikari-gw --version | --help

Log levels: fatal, error, warn, info, debug, trace, silent.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: "string", short: "c" },
      "state-dir": { type: "string" },
      "log-level": { type: "string" },
      interface: { type: "string", short: "i" },
      json: { type: "boolean" },
      keep: { type: "boolean" },
      mac: { type: "string" },
      sessions: { type: "string" },
      listen: { type: "string" },
      offload: { type: "string" },
      gc: { type: "boolean" },
      ports: { type: "string" },
      extension: { type: "string" },
      out: { type: "string", short: "o" },
      version: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.version) {
    process.stdout.write(`hikari-gw ${version()}\n`);
    return 0;
  }
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(HELP + "\n");
    return values.help ? 0 : 2;
  }
  const levelArg = values["log-level"];
  if (levelArg !== undefined && !LEVELS.has(levelArg)) {
    process.stderr.write(`--log-level: expected one of ${[...LEVELS].join(", ")}; got "${levelArg}"\n`);
    return 2;
  }
  const configFile = values.config ?? DEFAULT_CONFIG;

  switch (command) {
    case "check-config": {
      const { loadConfig, maskSecrets, ConfigError } = await import("./config/load.js");
      try {
        const cfg = loadConfig(configFile);
        const { withPhones } = await import("./provision/effective-config.js");
        process.stdout.write(stringify(maskSecrets(withPhones(cfg))));
        const { configWarnings } = await import("./config/warnings.js");
        const warnings = configWarnings(cfg);
        if (warnings.length > 0) process.stderr.write(`${configFile}: ${warnings.length} warning(s):\n` + warnings.map((w) => `  ${w.path}: ${w.message}\n`).join(""));
        return 0;
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(e.message + "\n");
          return 1;
        }
        throw e;
      }
    }
    case "run": {
      const { loadConfig, ConfigError } = await import("./config/load.js");
      let cfg;
      try {
        cfg = loadConfig(configFile);
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(e.message + "\n");
          return 1;
        }
        throw e;
      }
      const log = createRootLogger({ level: (levelArg as LogLevel | undefined) ?? cfg.log.level });
      const { Gateway } = await import("./gateway.js");
      const gw = new Gateway(cfg, log, { version: version() });
      // systemd (Type=notify): READY once listening, the trunk's state as STATUS, the watchdog.
      const { serviceManagerFromEnv, trunkStatusLine } = await import("./service/notify.js");
      const service = serviceManagerFromEnv(process.env, process.pid, log.child({ name: "service" }));
      let trunkLine = cfg.trunk.enabled ? "trunk starting" : "trunk disabled";
      gw.events.on("trunk", (s) => service.status((trunkLine = trunkStatusLine(s))));
      await gw.start();
      service.ready(trunkLine);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (sig: string) => {
          if (stopping) return;
          stopping = true;
          log.info({ signal: sig }, "stopping");
          service.stopping();
          gw.stop().then(resolve, (err) => {
            log.error({ err }, "error while stopping");
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      log.flush?.();
      return 0;
    }
    case "dhcp": {
      if (!values.interface) {
        process.stderr.write("dhcp: --interface IF is required\n");
        return 2;
      }
      const log = createRootLogger({ level: (levelArg as LogLevel | undefined) ?? "warn", destination: process.stderr });
      const { dhcpCommand } = await import("./dhcp/command.js");
      return dhcpCommand({ interface: values.interface, json: !!values.json, keep: !!values.keep, mac: values.mac, log });
    }
    case "relay": {
      const sessions = Number(values.sessions);
      if (!Number.isInteger(sessions) || sessions < 1) {
        process.stderr.write("relay: --sessions N (a positive integer) is required\n");
        return 2;
      }
      let portMin: number | undefined;
      let portMax: number | undefined;
      if (values.ports) {
        const m = /^(\d+)-(\d+)$/.exec(values.ports);
        if (!m) {
          process.stderr.write('relay: --ports expects "MIN-MAX"\n');
          return 2;
        }
        portMin = Number(m[1]);
        portMax = Number(m[2]);
      }
      const log = createRootLogger({ level: (levelArg as LogLevel | undefined) ?? "warn", destination: process.stderr });
      const { relayCommand } = await import("./media/command.js");
      return relayCommand({ sessions, listen: values.listen ?? "127.0.0.1", offload: (values.offload ?? "auto") as OffloadMode, portMin, portMax, log });
    }
    case "status": {
      // Finds the running gateway by its control socket: --state-dir, else the config's
      // state_dir when --config names one, else the default place (no config file needed).
      let stateDir = values["state-dir"];
      if (stateDir === undefined && values.config !== undefined) {
        const { loadConfig } = await import("./config/load.js");
        stateDir = loadConfig(values.config).state_dir;
      }
      const { queryStatus } = await import("./control.js");
      const status = await queryStatus(stateDir ?? DEFAULT_STATE_DIR, 3000, { gc: !!values.gc });
      if (values.json) process.stdout.write(JSON.stringify(status, null, 2) + "\n");
      else {
        const { renderStatus } = await import("./status-text.js");
        process.stdout.write(renderStatus(status));
      }
      return 0;
    }
    case "calls":
    case "events": {
      const { loadConfig } = await import("./config/load.js");
      const cfg = loadConfig(configFile);
      const out = (s: string) => void process.stdout.write(s);
      const err = (s: string) => void process.stderr.write(s);
      if (command === "calls") {
        const { callsCommand } = await import("./cli/calls.js");
        return callsCommand(cfg.state_dir, !!values.json, out, err);
      }
      const { eventsCommand } = await import("./cli/events.js");
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      return eventsCommand(cfg.state_dir, !!values.json, out, err, stop.signal);
    }
    case "dial": {
      const { loadConfig } = await import("./config/load.js");
      const cfg = loadConfig(configFile);
      const { dialCommand } = await import("./cli/dial.js");
      return dialCommand(cfg.state_dir, positionals.slice(1), values.extension, (s) => void process.stdout.write(s), (s) => void process.stderr.write(s));
    }
    case "unblock": {
      const target = positionals[1];
      if (!target || positionals.length > 2) {
        process.stderr.write("unblock: one address (e.g. 198.18.0.9) or extension (e.g. 801) is required\n");
        return 2;
      }
      const { loadConfig } = await import("./config/load.js");
      const cfg = loadConfig(configFile);
      const { queryControl } = await import("./control.js");
      const answer = (await queryControl(cfg.state_dir, { command: "unblock", target })) as { error?: string; lifted?: { address: string; extension?: string; remaining_s: number }[] };
      if (answer.error !== undefined || !Array.isArray(answer.lifted)) {
        process.stderr.write(`unblock: ${answer.error ?? "unexpected answer from the gateway"}\n`);
        return 1;
      }
      process.stdout.write(formatLifted(target, answer.lifted));
      return 0;
    }
    case "phone": {
      const { loadConfig } = await import("./config/load.js");
      const cfg = loadConfig(configFile);
      const { phoneCommand } = await import("./cli/phone.js");
      const write = (s: string) => void process.stdout.write(s);
      return phoneCommand(cfg.state_dir, positionals.slice(1), values.extension, write, (s) => void process.stderr.write(s));
    }
    case "voicemail": {
      // Reads the message directory itself, found like `status` finds the control socket.
      let stateDir = values["state-dir"];
      if (stateDir === undefined && values.config !== undefined) {
        const { loadConfig } = await import("./config/load.js");
        stateDir = loadConfig(values.config).state_dir;
      }
      const { voicemailCommand } = await import("./cli/voicemail.js");
      return voicemailCommand(stateDir ?? DEFAULT_STATE_DIR, positionals.slice(1), { out: values.out, json: !!values.json }, {
        out: (s) => void process.stdout.write(s),
        err: (s) => void process.stderr.write(s),
        writeBinary: (b) => void process.stdout.write(b),
        stdoutIsTty: process.stdout.isTTY === true,
        log: createRootLogger({ level: (levelArg as LogLevel | undefined) ?? "warn", destination: process.stderr }),
      });
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${HELP}\n`);
      return 2;
  }
}

/** What `unblock` prints: one line per lock lifted, or that there was none. */
function formatLifted(target: string, lifted: { address: string; extension?: string; remaining_s: number }[]): string {
  if (lifted.length === 0) return `no lock in force for ${target} (its failure counters are reset)\n`;
  return lifted
    .map((l) => (l.extension === undefined ? `lifted: address ${l.address} (blocked as a scanner, ${l.remaining_s} s left)` : `lifted: extension ${l.extension} from ${l.address} (${l.remaining_s} s left)`) + "\n")
    .join("");
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`hikari-gw: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
