/**
 * `<base>/bridge/request/<command>` → `<base>/bridge/response/<command>`, zigbee2mqtt's
 * shape: the request is JSON (or empty), may carry `transaction`, and the response echoes it
 * with `status` "ok" and `data`, or "error" and `error`. Arguments are checked in full before
 * the command runs, so a bad request changes nothing.
 */
import { CommandError, type GatewayCommands, type MissedCalls } from "../gateway-api.js";
import type { ResponsePayload } from "./topics.js";
import { DIAL_NUMBER } from "../dial-number.js";

export { DIAL_NUMBER };

/** Requests are small; a bigger payload is refused unparsed. */
export const MAX_REQUEST_BYTES = 4096;

export interface CommandContext {
  commands: GatewayCommands;
  dnd: () => boolean;
  missed: () => MissedCalls;
}

type Args = Record<string, unknown>;

type Handler = (args: Args, ctx: CommandContext) => unknown;

/** "on"/"off", "ON"/"OFF", true/false. */
function onOff(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(on|off|true|false)$/i.test(v)) return /^(on|true)$/i.test(v);
  return undefined;
}

const handlers: Record<string, Handler> = {
  dnd: (args, ctx) => {
    const on = onOff(args.value);
    if (on === undefined) throw new CommandError('dnd: "value" must be true or false');
    ctx.commands.setDnd(on);
    return { value: ctx.dnd() };
  },
  hangup: (args, ctx) => {
    const id = args.call_id;
    if (typeof id !== "string" || id.length === 0 || id.length > 256) throw new CommandError('hangup: "call_id" must be a call id or "all"');
    return { call_id: id, hung_up: ctx.commands.hangup(id) };
  },
  dial: (args, ctx) => {
    const number = args.number;
    const extension = args.extension;
    // A number as a user types or pastes it (separators are dropped by the dialplan); no SIP syntax gets through.
    if (typeof number !== "string" || !DIAL_NUMBER.test(number)) throw new CommandError('dial: "number" must be a phone number (digits, optionally + * # and separators), up to 32 characters');
    if (extension !== undefined && (typeof extension !== "string" || !/^[0-9]{2,15}$/.test(extension))) throw new CommandError('dial: "extension" must be an extension number');
    return ctx.commands.dial(extension === undefined ? { number } : { number, extension });
  },
  missed_reset: (_args, ctx) => {
    ctx.commands.resetMissed();
    return { count: ctx.missed().count, since: ctx.missed().since };
  },
  voicemail_heard: (_args, ctx) => {
    if (!ctx.commands.voicemailHeard) throw new CommandError("voicemail_heard: the answering machine is off (voicemail.enabled)");
    return { marked: ctx.commands.voicemailHeard() };
  },
};

export const COMMANDS = Object.keys(handlers);

/** The request as JSON arguments; a bare string is the main argument (`"all"` for hangup, `"ON"` for dnd). */
function parseArgs(command: string, payload: Buffer): Args {
  const text = payload.toString("utf8").trim();
  if (text === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    if (/^[[{"]/.test(text)) throw new CommandError("the request is not valid JSON");
    if (command === "hangup") return { call_id: text };
    if (command === "dnd") return { value: text };
    if (command === "dial") return { number: text };
    throw new CommandError("the request is not valid JSON");
  }
  if (Array.isArray(v)) throw new CommandError("the request must be a JSON object");
  if (v && typeof v === "object") return v as Args;
  if (command === "hangup") return { call_id: v };
  if (command === "dnd") return { value: v };
  if (command === "dial") return { number: typeof v === "number" ? String(v) : v };
  throw new CommandError("the request must be a JSON object");
}

/** The echoed transaction: a string or number, anything else dropped. */
function transactionOf(args: Args): string | number | undefined {
  const t = args.transaction;
  return typeof t === "string" || typeof t === "number" ? t : undefined;
}

export interface CommandOutcome {
  response: ResponsePayload;
  /** Set when the request failed: the one line to log. */
  error?: string;
}

/** Runs one request. Never throws: every failure becomes an error response. */
export function runCommand(command: string, payload: Buffer, ctx: CommandContext): CommandOutcome {
  let transaction: string | number | undefined;
  const fail = (error: string): CommandOutcome => {
    const response: ResponsePayload = { status: "error", error };
    if (transaction !== undefined) response.transaction = transaction;
    return { response, error };
  };
  if (payload.length > MAX_REQUEST_BYTES) return fail(`the request is larger than ${MAX_REQUEST_BYTES} bytes`);
  try {
    const args = parseArgs(command, payload);
    transaction = transactionOf(args);
    const handler = Object.hasOwn(handlers, command) ? handlers[command] : undefined;
    if (!handler) return fail(`unknown command "${command}" (known: ${COMMANDS.join(", ")})`);
    const data = handler(args, ctx);
    const response: ResponsePayload = { status: "ok", data };
    if (transaction !== undefined) response.transaction = transaction;
    return { response };
  } catch (err) {
    if (err instanceof CommandError) return fail(err.message);
    return fail(`internal error: ${(err as Error)?.message ?? String(err)}`);
  }
}
