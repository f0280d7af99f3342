/**
 * The trunk labs' common bring-up: the SIP lab's hosts (gateway + phones 801, 802), the NGN
 * emulator on the gateway's WAN port, the built gateway started with nothing but
 * `wan.interface` for the line, and phone 801 registered to it by SIPp (digest).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "../netns.js";
import { startNgn, type Ngn, type NgnOptions } from "../ngn/emulator.js";
import { NGN_LAB } from "../ngn/addresses.js";
import { gatewayBuilt } from "../sip/gateway-process.js";
import { credentials, runSipp, type SippResult, type SippRun } from "../sip/sipp.js";
import { buildSipLab, type Phone, type SipLab } from "../sip/topology.js";
import { TrunkGateway, type TrunkGatewayConfig } from "./gateway-run.js";
import { toneUlaw } from "./tone-ulaw.js";

export interface TrunkLab {
  net: SipLab;
  phone: Phone;
  phone2: Phone;
  ngn: Ngn;
  gw: TrunkGateway;
  /** The run's work directory (SIPp traces, configs, the tone). */
  dir: string;
  /** The gateway's config for this lab, with `more` on top (restart with gw.start(config(...))). */
  config(more?: Partial<TrunkGatewayConfig>): TrunkGatewayConfig;
  /** The SIPp registration of phone 801, already run. */
  registration: SippResult;
}

/**
 * Brings the lab up in `lab`; `name` tags the SIPp run. The caller checks `registration` and
 * tears down with stopTrunkLab(); a bring-up that fails half-way stops what it started.
 */
export async function startTrunkLab(
  lab: Lab,
  o: {
    dirPrefix: string;
    ngn?: Omit<NgnOptions, "wanHost">;
    gateway?: Partial<TrunkGatewayConfig>;
    sippName: (scenario: string) => string;
    /** More LAN hosts beside 801 and 802 (net.phones[2…], not configured as extensions): e.g. an attacker. */
    extraHosts?: string[];
  },
): Promise<TrunkLab> {
  if (!gatewayBuilt()) throw new Error("dist/cli.js missing: run `npm run build` (npm run test:lab does)");
  const dir = mkdtempSync(join(tmpdir(), o.dirPrefix));
  let ngn: Ngn | undefined;
  let gw: TrunkGateway | undefined;
  try {
    const net = buildSipLab(lab, ["801", "802", ...(o.extraHosts ?? [])]);
    const phone = net.phones[0]!;
    const phone2 = net.phones[1]!;
    ngn = await startNgn(lab, { wanHost: net.gatewayHost, ...o.ngn });
    writeFileSync(join(dir, "tone.ulaw"), toneUlaw(440, 4));
    const config = (more: Partial<TrunkGatewayConfig> = {}): TrunkGatewayConfig => ({ wanIf: NGN_LAB.wanIf, lanAddr: net.gatewayAddr, phones: [phone, phone2], stateDir: join(dir, "state"), ...o.gateway, ...more });
    // The WAN port starts down, as on the Pi image where nothing but the gateway manages it:
    // the gateway's DHCP client must set the link up itself.
    lab.exec(net.gatewayHost, "ip", ["link", "set", "dev", NGN_LAB.wanIf, "down"]);
    gw = new TrunkGateway(lab, net.gatewayHost, dir);
    gw.start(config());
    const run: SippRun = { scenario: "reg.xml", host: phone.host, localAddr: phone.addr, remote: `${net.gatewayAddr}:5060`, dir, name: o.sippName("reg.xml"), inf: [credentials("801", phone.password)], keys: { expires: "3600" }, authUri: net.gatewayAddr, timeoutS: 15 };
    const registration = await runSipp(lab, run);
    return { net, phone, phone2, ngn, gw, dir, config, registration };
  } catch (err) {
    await stopTrunkLab(lab, { gw, ngn, dir });
    throw err;
  }
}

/**
 * Tears a trunk lab down in reverse: the gateway (SIGTERM, so it unregisters), the NGN
 * emulator, the namespaces, the emulator's files and the work directory. Safe on a lab that
 * never came up, and on parts already stopped by a test.
 */
export async function stopTrunkLab(lab: Lab | undefined, t: { gw?: TrunkGateway; ngn?: Ngn; dir?: string } | undefined): Promise<void> {
  await t?.gw?.stop();
  await t?.ngn?.stop();
  await lab?.destroy();
  t?.ngn?.removeFiles();
  if (t?.dir) rmSync(t.dir, { recursive: true, force: true });
}
