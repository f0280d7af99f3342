/**
 * Stand-alone entry for the relay benchmark mode until src/cli.ts wires `hikari-gw relay`:
 * `node dist/media/relay-main.js --sessions N [--listen ADDR] [--offload auto|nftables|none] [--ports MIN-MAX]`.
 * Logs go to stderr: stdout carries only the JSON line of ports.
 */
import { parseArgs } from "node:util";
import { createRootLogger } from "../log.js";
import { relayCommand } from "./command.js";
import type { OffloadMode } from "./relay.js";

const { values } = parseArgs({
  options: {
    sessions: { type: "string" },
    listen: { type: "string", default: "127.0.0.1" },
    offload: { type: "string", default: "auto" },
    ports: { type: "string", default: "50000-59999" },
  },
});
const [portMin, portMax] = String(values.ports).split("-").map(Number);
const log = createRootLogger({ level: (process.env.LOG_LEVEL as "info") ?? "info", destination: process.stderr });
process.exitCode = await relayCommand({ sessions: Number(values.sessions), listen: String(values.listen), offload: String(values.offload) as OffloadMode, portMin, portMax, log });
