/**
 * The composition root's own duties: time from the injected clock, and named loggers for the
 * layers it builds. The second test starts the gateway on a loopback socket (no trunk, no MQTT).
 */
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { validateConfig } from "./config/load.js";
import { Gateway } from "./gateway.js";
import { CommandError } from "./gateway-api.js";
import { silentLogger } from "./log.js";
import { queryControl } from "./control.js";
import { httpRequest } from "../test/support/http-get.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A LAN-only gateway on `address:port`, its state in a temp dir. */
function config(address = "127.0.0.1", port = 5060, more: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "hgw-gateway-"));
  dirs.push(dir);
  return validateConfig({
    wan: { interface: "none" },
    trunk: { enabled: false },
    lan: { listen: address, port },
    extensions: [{ number: "801", password: "secret-801" }],
    media: { rtp_ports: "50000-50009", offload: "none" }, // never the host's nftables from a unit test
    state_dir: dir,
    ...more,
  });
}

/** A loopback address and port of a test's own, away from other tests and a running gateway. */
function loopback(): [string, number] {
  return [`127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250) + 1}.1`, 20_000 + Math.floor(Math.random() * 20_000)];
}

describe("Gateway", () => {
  it("has no HTTP listener while idle: phone add opens it for its URL, the fetch closes it again", async () => {
    const [address, port] = loopback();
    const provision = port + 1;
    const cfg = config(address, port, { vpn: { provision_port: provision } });
    const gw = new Gateway(cfg, silentLogger(), { version: "test" }, { clock: new ManualClock(1_000_000) });
    try {
      await gw.start();
      await expect(httpRequest(provision, "/", "GET", {}, address)).rejects.toThrow(/ECONNREFUSED/);
      const added = (await queryControl(cfg.state_dir, { command: "phone-add", name: "Pixel" }, 5000)) as { provisioning_url?: string };
      const url = new URL(added.provisioning_url!);
      expect(url.host).toBe(`${address}:${provision}`);
      const got = await httpRequest(provision, url.pathname, "GET", {}, address);
      expect(got.status).toBe(200);
      expect(got.body.toString()).toContain("<config");
      // The one URL is spent: the port closed as the response went out, before it arrived here.
      await expect(httpRequest(provision, "/", "GET", {}, address)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await gw.stop();
    }
  });

  it("counts its uptime on the injected clock", () => {
    const clock = new ManualClock(1_000_000);
    const gw = new Gateway(config(), silentLogger(), { version: "test" }, { clock });
    expect(gw.status().uptime_s).toBe(0);
    clock.advance(90_000);
    expect(gw.status().uptime_s).toBe(90);
  });

  it("gives the LAN transaction layer its own logger, named sip.transaction", async () => {
    const lines: Array<Record<string, unknown>> = [];
    let seen: (() => void) | undefined;
    const log = pino({ level: "debug" }, {
      write: (s: string) => {
        lines.push(JSON.parse(s) as Record<string, unknown>);
        seen?.();
      },
    });
    // A loopback address and port of this test's own, away from other tests and a running gateway.
    const address = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250) + 1}.1`;
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const gw = new Gateway(config(address, port), log, { version: "test" }, { clock: new ManualClock(1_000_000) });
    const sock = createSocket("udp4");
    try {
      await gw.start();
      // Well-formed but unusable (CSeq names another method): the layer rejects it, and says so.
      const bad = `OPTIONS sip:801@${address} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-gw-test\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:801@${address}>\r\nCall-ID: gw-test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      const rejected = () => lines.find((l) => l.msg === "rejecting invalid request");
      const logged = new Promise<void>((resolve, reject) => {
        const guard = setTimeout(() => reject(new Error("no rejection logged")), 5000);
        seen = () => {
          if (!rejected()) return;
          clearTimeout(guard);
          resolve();
        };
      });
      sock.send(bad, port, address);
      await logged;
      expect(rejected()).toMatchObject({ name: "sip.transaction", status: 400 });
    } finally {
      sock.close();
      await gw.stop();
    }
  });

  it("dial without an extension rings mqtt.dial_extension, else the only extension; with several and no default it asks for one", async () => {
    const dial = async (more: Record<string, unknown>, req: { number: string; extension?: string }) => {
      const [address, port] = loopback();
      const gw = new Gateway(config(address, port, more), silentLogger(), { version: "test" }, { clock: new ManualClock(1_000_000) });
      await gw.start();
      try {
        return (() => {
          try {
            return gw.commands.dial(req);
          } catch (err) {
            return { error: (err as Error).message, command: err instanceof CommandError };
          }
        })();
      } finally {
        await gw.stop();
      }
    };
    const two = { extensions: [{ number: "801", password: "secret-801" }, { number: "802", password: "secret-802" }] };
    // Nothing is registered in these gateways: the refusal names the extension the default chose.
    expect(await dial({}, { number: "0312345678" })).toEqual({ error: "extension 801 is not registered", command: true });
    expect(await dial(two, { number: "0312345678" })).toEqual({ error: '"extension" is required: there are 2 extensions and no mqtt.dial_extension', command: true });
    expect(await dial({ ...two, mqtt: { dial_extension: "802" } }, { number: "0312345678" })).toEqual({ error: "extension 802 is not registered", command: true });
    expect(await dial(two, { number: "0312345678", extension: "899" })).toEqual({ error: "no extension 899", command: true });
  });
});
