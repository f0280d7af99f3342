/**
 * The control socket: a Unix socket in state_dir through which `hikari-gw status` asks the
 * running gateway for its state (and `hikari-gw unblock` lifts authentication locks). One
 * JSON request line in, one JSON answer out.
 */
import { createServer, createConnection, type Server } from "node:net";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "./log.js";

export const controlSocketPath = (stateDir: string) => join(stateDir, "control.sock");

/** What the command line may ask; anything else is answered with an error. */
/** `gc` on status: a full garbage collection before the figures (only when Node runs with --expose-gc). */
export type ControlRequest =
  | { command: "status"; gc?: boolean }
  | { command: "unblock"; target: string }
  | { command: "calls" }
  | { command: "dnd"; value: boolean }
  | { command: "hangup"; call_id: string }
  | { command: "missed_reset" }
  | { command: "phone-add"; name: string; extension?: string }
  | { command: "phone-remove"; name: string }
  | { command: "phone-list" };

/** May answer with a promise (phone add/remove change the WireGuard interface). */
export type ControlHandler = (request: ControlRequest) => unknown;

/** A request line as the handler gets it; throws with a message for the client otherwise. */
export function parseControlRequest(line: string): ControlRequest {
  const req = JSON.parse(line) as { command?: unknown; target?: unknown; name?: unknown; extension?: unknown; gc?: unknown };
  const command = req.command ?? "status";
  if (command === "status") return req.gc === true ? { command, gc: true } : { command };
  if (command === "unblock") {
    if (typeof req.target !== "string" || req.target.length === 0 || req.target.length > 100) throw new Error("unblock: target must be an address or an extension");
    return { command, target: req.target };
  }
  if (command === "calls" || command === "missed_reset") return { command };
  if (command === "dnd") {
    const r = req as { value?: unknown };
    if (typeof r.value !== "boolean") throw new Error("dnd: value must be true or false");
    return { command, value: r.value };
  }
  if (command === "hangup") {
    const r = req as { call_id?: unknown };
    if (typeof r.call_id !== "string" || r.call_id.length === 0 || r.call_id.length > 256) throw new Error('hangup: call_id must be a call id or "all"');
    return { command, call_id: r.call_id };
  }
  if (command === "phone-list") return { command };
  if (command === "phone-add" || command === "phone-remove") {
    if (typeof req.name !== "string" || req.name.length === 0 || req.name.length > 32) throw new Error(`${command}: name must be 1-32 characters`);
    if (command === "phone-remove") return { command, name: req.name };
    if (req.extension !== undefined && (typeof req.extension !== "string" || !/^[0-9]{2,15}$/.test(req.extension))) throw new Error("phone-add: extension must be digits");
    return { command, name: req.name, extension: req.extension as string | undefined };
  }
  throw new Error(`unknown command ${JSON.stringify(String(command)).slice(0, 40)}`);
}

export async function startControlServer(stateDir: string, handler: ControlHandler, log: Logger): Promise<Server> {
  mkdirSync(stateDir, { recursive: true });
  const path = controlSocketPath(stateDir);
  rmSync(path, { force: true }); // a stale socket from a crash
  const server = createServer((sock) => {
    let buf = "";
    let handled = false;
    sock.setEncoding("utf8");
    sock.on("error", () => sock.destroy());
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.length > 4096) return sock.destroy();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      if (handled) return;
      handled = true;
      const line = buf.slice(0, nl);
      void (async () => {
        let answer: unknown;
        try {
          answer = await handler(parseControlRequest(line));
        } catch (err) {
          answer = { error: (err as Error).message };
        }
        if (!sock.destroyed) sock.end(JSON.stringify(answer) + "\n");
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  // `phone add` answers carry a new phone's password and key: owner only.
  chmodSync(path, 0o600);
  log.debug({ path }, "control socket listening");
  return server;
}

export function queryStatus(stateDir: string, timeoutMs = 3000, opts: { gc?: boolean } = {}): Promise<unknown> {
  return queryControl(stateDir, opts.gc ? { command: "status", gc: true } : { command: "status" }, timeoutMs);
}

export function queryControl(stateDir: string, request: ControlRequest, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(controlSocketPath(stateDir));
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("the gateway did not answer on its control socket"));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify(request) + "\n"));
    sock.on("data", (d: string) => (buf += d));
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf));
      } catch {
        reject(new Error("bad answer from the control socket"));
      }
    });
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the gateway at ${controlSocketPath(stateDir)}: ${err.message} (is it running?)`));
    });
  });
}
