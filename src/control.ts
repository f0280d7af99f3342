/**
 * The control socket: a Unix socket in state_dir through which `hikari-gw status` asks the
 * running gateway for its state. One JSON request line in, one JSON answer out.
 */
import { createServer, createConnection, type Server } from "node:net";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "./log.js";

export const controlSocketPath = (stateDir: string) => join(stateDir, "control.sock");

export type ControlHandler = (command: string) => unknown;

export async function startControlServer(stateDir: string, handler: ControlHandler, log: Logger): Promise<Server> {
  mkdirSync(stateDir, { recursive: true });
  const path = controlSocketPath(stateDir);
  rmSync(path, { force: true }); // a stale socket from a crash
  const server = createServer((sock) => {
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("error", () => sock.destroy());
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.length > 4096) return sock.destroy();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      let answer: unknown;
      try {
        const req = JSON.parse(buf.slice(0, nl)) as { command?: string };
        answer = handler(String(req.command ?? "status"));
      } catch (err) {
        answer = { error: (err as Error).message };
      }
      sock.end(JSON.stringify(answer) + "\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  log.debug({ path }, "control socket listening");
  return server;
}

export function queryStatus(stateDir: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(controlSocketPath(stateDir));
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("the gateway did not answer on its control socket"));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify({ command: "status" }) + "\n"));
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
