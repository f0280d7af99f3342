/**
 * Adding and removing phones while the gateway runs: the record in state_dir, the extension
 * (through the `onExtensionsChanged` callback the gateway wires to the registrar), the
 * WireGuard peer, and the one-time provisioning URL. Answers carry the phone's secrets back
 * to the CLI over the control socket only; nothing here logs a password or a private key.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../log.js";
import { generateKeyPair } from "../vpn/keys.js";
import { nextFreeAddress, type Subnet } from "../vpn/subnet.js";
import { loadPhones, nextExtension, savePhones, validPhoneName, type PhoneRecord } from "./phone-store.js";
import { mergeExtensions, type MergedExtension } from "./merge.js";
import { linphoneXml, settingsText, wireguardConfig, type SipAccount } from "./settings.js";
import { PROVISION_PATH } from "./tokens.js";
import type { ProvisioningOffers } from "./listener.js";

/** What the phone manager needs of the WireGuard interface. */
export interface PeerControl {
  addPeer(publicKey: string, address: string): Promise<void>;
  removePeer(publicKey: string): Promise<void>;
}

export interface Vpn {
  peers: PeerControl;
  subnet: Subnet;
  /** "10.8.0.0/24" as configured. */
  subnetText: string;
  gatewayAddress: string;
  serverPublicKey: string;
  endpoint: string;
}

export interface PhoneManagerOptions {
  stateDir: string;
  configured: readonly { number: string; password: string; name?: string; caller_id?: string }[];
  /** The one-time provisioning URLs, and the listener that serves them while any is outstanding. */
  offers: ProvisioningOffers;
  /** Where phones reach the SIP listener and the provisioning URL when there is no VPN. */
  lanHost: string;
  sipPort: number;
  provisionPort: number;
  realm: string;
  vpn?: Vpn;
  log: Logger;
  onExtensionsChanged: (extensions: MergedExtension[]) => void;
}

export interface PhoneAdded {
  name: string;
  extension: string;
  sip: SipAccount;
  settings_text: string;
  /** Absent when the listener could not open (the gateway logged why): the settings are still here. */
  provisioning_url?: string;
  wireguard_config?: string;
}

export class PhoneManager {
  private phones: PhoneRecord[];
  constructor(private readonly opts: PhoneManagerOptions) {
    this.phones = loadPhones(opts.stateDir);
  }

  /** The merged list (YAML first); what the registrar authenticates against. */
  extensions(): MergedExtension[] {
    return mergeExtensions(this.opts.configured, this.phones).extensions;
  }

  /** Peers to add when the interface comes up. */
  peers(): { public_key: string; address: string }[] {
    return this.phones.flatMap((p) => (p.wireguard ? [p.wireguard] : []));
  }

  list(): { name: string; extension: string; address?: string; public_key?: string; created_at: string }[] {
    return this.phones.map((p) => ({ name: p.name, extension: p.extension, address: p.wireguard?.address, public_key: p.wireguard?.public_key, created_at: p.created_at }));
  }

  async add(name: string, extension?: string): Promise<PhoneAdded> {
    if (!validPhoneName(name)) throw new Error("phone add: NAME must be 1-32 letters, digits, spaces, '.', '_' or '-'");
    if (this.phones.some((p) => p.name === name)) throw new Error(`phone add: a phone named "${name}" exists`);
    const used = this.extensions().map((e) => e.number);
    if (extension !== undefined) {
      if (!/^[0-9]{2,15}$/.test(extension)) throw new Error("phone add: --extension expects digits, e.g. 803");
      if (used.includes(extension)) throw new Error(`phone add: extension ${extension} exists`);
    }
    const number = extension ?? nextExtension(used);
    // 24 random bytes: 32 characters no one types, since the QR code carries them.
    const password = randomBytes(24).toString("base64url");
    const vpn = this.opts.vpn;
    const record: PhoneRecord = { name, extension: number, password, created_at: new Date().toISOString() };
    let wgConfig: string | undefined;
    if (vpn) {
      const keys = generateKeyPair();
      const address = nextFreeAddress(vpn.subnet, [vpn.gatewayAddress, ...this.peers().map((p) => p.address)]);
      record.wireguard = { public_key: keys.publicKey, address };
      wgConfig = wireguardConfig({ privateKey: keys.privateKey, address, serverPublicKey: vpn.serverPublicKey, endpoint: vpn.endpoint, allowedIps: vpn.subnetText });
      await vpn.peers.addPeer(keys.publicKey, address);
    }
    try {
      savePhones(this.opts.stateDir, [...this.phones, record]);
    } catch (err) {
      // Nothing half-made: the peer goes again when the record cannot be kept.
      if (vpn && record.wireguard) await vpn.peers.removePeer(record.wireguard.public_key).catch(() => undefined);
      throw err;
    }
    this.phones.push(record);
    this.opts.onExtensionsChanged(this.extensions());
    const host = vpn ? vpn.gatewayAddress : this.opts.lanHost;
    const sip: SipAccount = { server: host, port: this.opts.sipPort, user: number, password, realm: this.opts.realm, displayName: name };
    const token = await this.opts.offers.offer(number, linphoneXml(sip));
    this.opts.log.info({ phone: name, extension: number, tunnel_address: record.wireguard?.address }, "phone added");
    return {
      name,
      extension: number,
      sip,
      settings_text: settingsText(sip),
      ...(token !== undefined ? { provisioning_url: `http://${host}:${this.opts.provisionPort}${PROVISION_PATH}${token}` } : {}),
      wireguard_config: wgConfig,
    };
  }

  async remove(name: string): Promise<{ name: string; extension: string }> {
    const p = this.phones.find((x) => x.name === name);
    if (!p) throw new Error(`phone remove: no phone named "${name}" (see phone list)`);
    savePhones(this.opts.stateDir, this.phones.filter((x) => x !== p));
    this.phones = this.phones.filter((x) => x !== p);
    this.opts.offers.revoke(p.extension);
    this.opts.onExtensionsChanged(this.extensions());
    if (p.wireguard && this.opts.vpn) await this.opts.vpn.peers.removePeer(p.wireguard.public_key);
    this.opts.log.info({ phone: name, extension: p.extension }, "phone removed");
    return { name, extension: p.extension };
  }
}
