/**
 * `hikari-gw dial NUMBER [--extension N]`: click-to-dial from a shell. The running gateway
 * rings the extension (default: mqtt.dial_extension, else the only one), and once it answers
 * calls NUMBER from it. Prints the call id at once; `hikari-gw events` follows the call.
 */
import { queryControl } from "../control.js";
import { DIAL_NUMBER } from "../dial-number.js";

type Out = (s: string) => void;

export async function dialCommand(stateDir: string, args: string[], extension: string | undefined, out: Out, err: Out, query = queryControl): Promise<number> {
  const number = args.join(" ").trim();
  if (args.length === 0 || !DIAL_NUMBER.test(number)) {
    err("dial: one phone number is required (digits, optionally + * # and separators), e.g. hikari-gw dial 0312345678 --extension 801\n");
    return 2;
  }
  if (extension !== undefined && !/^[0-9]{2,15}$/.test(extension)) {
    err("dial: --extension must be an extension number\n");
    return 2;
  }
  const answer = (await query(stateDir, extension === undefined ? { command: "dial", number } : { command: "dial", number, extension })) as { error?: unknown; call_id?: unknown; extension?: unknown };
  if (typeof answer.error === "string" || typeof answer.call_id !== "string") {
    err(`dial: ${typeof answer.error === "string" ? answer.error : "unexpected answer from the gateway"}\n`);
    return 1;
  }
  out(`ringing extension ${String(answer.extension)}; when it answers it calls ${number} (call_id ${answer.call_id})\n`);
  return 0;
}
