/**
 * The control socket: a Unix socket in state_dir through which `hikari-gw status` asks the
 * running gateway for its state (and `hikari-gw unblock` lifts authentication locks). One
 * JSON request line in, one JSON answer out; except `events`, which streams one JSON line per
 * gateway event until the client goes away (`hikari-gw events`).
 */
import { createServer, createConnection, type Server, type Socket } from "node:net";
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
  | { command: "events" }
  | { command: "dnd"; value: boolean }
  | { command: "hangup"; call_id: string }
  | { command: "missed_reset" }
  | { command: "dial"; number: string; extension?: string }
  | { command: "phone-add"; name: string; extension?: string }
  | { command: "phone-remove"; name: string }
  | { command: "phone-list" };

/** May answer with a promise (phone add/remove change the WireGuard interface). `events` never reaches it: the server streams those itself. */
export type ControlHandler = (request: Exclude<ControlRequest, { command: "events" }>) => unknown;

/** A request line as the handler gets it; throws with a message for the client otherwise. */
export function parseControlRequest(line: string): ControlRequest {
  const req = JSON.parse(line) as { command?: unknown; target?: unknown; name?: unknown; extension?: unknown; gc?: unknown };
  const command = req.command ?? "status";
  if (command === "status") return req.gc === true ? { command, gc: true } : { command };
  if (command === "unblock") {
    if (typeof req.target !== "string" || req.target.length === 0 || req.target.length > 100) throw new Error("unblock: target must be an address or an extension");
    return { command, target: req.target };
  }
  if (command === "calls" || command === "missed_reset" || command === "events") return { command };
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
  if (command === "dial") {
    const r = req as { number?: unknown };
    if (typeof r.number !== "string" || r.number.length === 0 || r.number.length > 32) throw new Error("dial: number must be a phone number, up to 32 characters");
    if (req.extension !== undefined && (typeof req.extension !== "string" || !/^[0-9]{2,15}$/.test(req.extension))) throw new Error("dial: extension must be digits");
    return req.extension === undefined ? { command, number: r.number } : { command, number: r.number, extension: req.extension as string };
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

/** One line of an `events` stream: a GatewayEvents event (`name`, its payload) or a notice that some were dropped. */
export type FollowLine = { event: string; data: unknown } | { dropped: number };

/**
 * Subscribes `push` to every gateway event; returns the unsubscribe. Given to the server so
 * the socket layer never sees GatewayEvents' listeners.
 */
export type FollowEvents = (push: (event: string, data: unknown) => void) => () => void;

/**
 * An `events` client that reads slower than events come stops being written to once this
 * much is queued in its socket: events are dropped (counted, then reported in one line when
 * it has drained) so a stuck `hikari-gw events` in a paused terminal cannot grow the gateway.
 */
export const FOLLOW_BUFFER_BYTES = 64 * 1024;

function follow(sock: Socket, subscribe: FollowEvents, log: Logger, limit: number, streams: Set<Socket>): void {
  streams.add(sock);
  let dropped = 0;
  const write = (line: FollowLine) => sock.write(JSON.stringify(line) + "\n");
  const unsubscribe = subscribe((event, data) => {
    if (sock.destroyed || !sock.writable) return;
    if (sock.writableLength >= limit) {
      if (dropped++ === 0) log.warn({ queued_bytes: sock.writableLength }, "events client reads too slowly: dropping events until it catches up");
      return;
    }
    if (dropped > 0) {
      write({ dropped });
      dropped = 0;
    }
    write({ event, data });
  });
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    unsubscribe();
    if (dropped > 0) log.warn({ dropped }, "events client left with events dropped");
  };
  sock.on("close", () => {
    streams.delete(sock);
    stop();
  });
}

export interface ControlServerOptions {
  /** Where `events` requests get their events; without it they are answered with an error. */
  follow?: FollowEvents;
  /** Bytes queued per `events` client before events are dropped (FOLLOW_BUFFER_BYTES). */
  followBufferBytes?: number;
}

export async function startControlServer(stateDir: string, handler: ControlHandler, log: Logger, opts: ControlServerOptions = {}): Promise<Server> {
  mkdirSync(stateDir, { recursive: true });
  const path = controlSocketPath(stateDir);
  rmSync(path, { force: true }); // a stale socket from a crash
  /** Open `events` streams: they never end by themselves, so closing the server ends them (the client sees the end). */
  const streams = new Set<Socket>();
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
          const request = parseControlRequest(line);
          if (request.command === "events") {
            if (!opts.follow) throw new Error("events: not available on this gateway");
            buf = "";
            sock.removeAllListeners("data");
            sock.on("data", () => undefined); // keep reading (and discarding) so the client's end is seen
            return follow(sock, opts.follow, log, opts.followBufferBytes ?? FOLLOW_BUFFER_BYTES, streams);
          }
          answer = await handler(request);
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
  // net.Server.close waits for every connection to end; a `hikari-gw events` left running
  // would hold the gateway's shutdown forever. End the streams first.
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of streams) s.end();
    return close(cb);
  }) as typeof server.close;
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

/**
 * Follows the gateway's events (`hikari-gw events`): calls `onLine` with each line as it
 * comes; resolves when the gateway closes the stream or `signal` aborts, rejects when the
 * socket cannot be reached or the gateway refuses the request.
 */
export function followControl(stateDir: string, onLine: (line: FollowLine) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(controlSocketPath(stateDir));
    let buf = "";
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish();
    if (signal?.aborted) return finish();
    signal?.addEventListener("abort", onAbort);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify({ command: "events" }) + "\n"));
    sock.on("data", (d: string) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0 && !settled; nl = buf.indexOf("\n")) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return finish(new Error("bad line from the control socket"));
        }
        const p = parsed as { error?: unknown };
        if (typeof p.error === "string") return finish(new Error(p.error));
        onLine(parsed as FollowLine);
      }
    });
    sock.on("end", () => finish());
    sock.on("error", (err) => finish(new Error(`cannot reach the gateway at ${controlSocketPath(stateDir)}: ${err.message} (is it running?)`)));
  });
}
