/**
 * Logging: one structured JSON line per event on stdout (journald keeps it), via pino.
 * Every module gets a named child (`sip.transaction`, `media.relay`, …); call-scoped lines
 * add `call_id` through a further child. Lower layers receive a Logger in their
 * constructor and never create the root themselves.
 */
import { pino, type Logger as PinoLogger, type LevelWithSilent } from "pino";

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export interface RootLoggerOptions {
  level?: LogLevel;
  /** Destination stream; stdout by default. Tests pass a sink. */
  destination?: NodeJS.WritableStream;
}

export function createRootLogger(opts: RootLoggerOptions = {}): Logger {
  const dest = opts.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: opts.level ?? "info",
      base: undefined, // no pid/hostname noise: journald records those
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Secrets never reach the journal, whichever object carries them (phone add's answer too).
      redact: {
        paths: ["password", "*.password", "*.*.password", "config.extensions[*].password", "privateKey", "*.privateKey", "private_key", "*.private_key", "wireguard_config", "*.wireguard_config", "provisioning_url", "*.provisioning_url", "settings_text", "*.settings_text", "token", "*.token"],
        censor: "***",
      },
    },
    dest as never,
  );
}

/** A logger that drops everything: the default for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
