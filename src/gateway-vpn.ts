/**
 * The built-in WireGuard, as the gateway starts it (`vpn.wireguard`): the server key from
 * state_dir, the interface with the subnet's first address. Started before the SIP listener,
 * which may be bound to the tunnel address. A failure leaves the LAN side working.
 */
import type { Config } from "./config/schema.js";
import type { Logger } from "./log.js";
import type { Vpn } from "./provision/phones.js";
import { loadOrCreateServerKey } from "./vpn/keys.js";
import { gatewayAddress, parseSubnet } from "./vpn/subnet.js";
import { WireguardInterface } from "./vpn/wireguard.js";

export interface StartedVpn {
  wireguard: WireguardInterface;
  vpn: Vpn;
}

/** Undefined when the VPN is off or could not start (logged). */
export async function startWireguard(config: Config, log: Logger): Promise<StartedVpn | undefined> {
  const w = config.vpn.wireguard;
  if (!w.enabled) return undefined;
  let wg: WireguardInterface | undefined;
  try {
    if (!w.endpoint) throw new Error("vpn.wireguard.endpoint: required (the public host:port phones dial)");
    const key = loadOrCreateServerKey(config.state_dir);
    const subnet = parseSubnet(w.subnet);
    const address = gatewayAddress(subnet);
    wg = new WireguardInterface({ name: w.interface, listenPort: w.port, privateKeyFile: key.path, address: `${address}/${subnet.prefix}`, log });
    await wg.up();
    log.info({ interface: w.interface, address, port: w.port }, "wireguard up");
    return { wireguard: wg, vpn: { peers: wg, subnet, subnetText: w.subnet, gatewayAddress: address, serverPublicKey: key.publicKey, endpoint: w.endpoint } };
  } catch (err) {
    log.error({ err }, "wireguard could not start; the LAN side keeps working");
    await wg?.down().catch(() => undefined);
    return undefined;
  }
}
