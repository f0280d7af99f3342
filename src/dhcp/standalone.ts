/**
 * The DHCP client on its own, for the lab and for debugging on a Pi:
 *   node dist/dhcp/standalone.js IF [--state-dir DIR] [--mac MAC] [--no-apply] [--default-route] [--release-on-exit]
 * Prints one JSON line per event on stdout ({"event":"bound","lease":{…}}); logs go to
 * stderr. SIGTERM/SIGINT stops it, releasing the lease when --release-on-exit is given.
 */
import { parseArgs } from "node:util";
import { createRootLogger, type LogLevel } from "../log.js";
import { DhcpClient, type DhcpClientEvents } from "./client.js";

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      "state-dir": { type: "string" },
      mac: { type: "string" },
      "no-apply": { type: "boolean" },
      "default-route": { type: "boolean" },
      "release-on-exit": { type: "boolean" },
      "log-level": { type: "string" },
    },
  });
  const iface = positionals[0];
  if (!iface) {
    process.stderr.write("usage: standalone.js IF [--state-dir DIR] [--mac MAC] [--no-apply] [--default-route] [--release-on-exit]\n");
    return 2;
  }
  const log = createRootLogger({ level: (values["log-level"] as LogLevel | undefined) ?? "info", destination: process.stderr });
  const client = new DhcpClient({
    interface: iface,
    stateDir: values["state-dir"],
    mac: values.mac,
    applyToInterface: !values["no-apply"],
    defaultRoute: !!values["default-route"],
    log,
  });
  const print = (event: keyof DhcpClientEvents, extra: Record<string, unknown>) => process.stdout.write(JSON.stringify({ event, at: Date.now(), ...extra }) + "\n");
  client.on("bound", (lease) => print("bound", { lease }));
  client.on("renewed", (lease) => print("renewed", { lease }));
  client.on("changed", (lease, previous) => print("changed", { lease, previous }));
  client.on("expired", (lease) => print("expired", { lease }));
  client.on("released", (lease) => print("released", { lease }));
  client.on("error", (err) => print("error", { error: err.message }));
  await client.start();
  process.stdout.write(JSON.stringify({ event: "started", state: client.state }) + "\n");
  await new Promise<void>((resolve) => {
    const stop = () => {
      client.stop({ release: !!values["release-on-exit"] }).then(resolve, (e: unknown) => {
        log.error({ err: (e as Error).message }, "stop failed");
        resolve();
      });
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  process.stdout.write(JSON.stringify({ event: "stopped" }) + "\n");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
