/**
 * What a phone is told: the WireGuard config as wg-quick reads it, the Linphone remote
 * provisioning XML (liblinphone's "config" format, one <section> per rc section), and the
 * same SIP settings as text for any other app.
 */
export interface SipAccount {
  server: string;
  port: number;
  user: string;
  password: string;
  realm: string;
  displayName?: string;
}

export interface PeerConfig {
  privateKey: string;
  address: string;
  serverPublicKey: string;
  endpoint: string;
  /** The tunnel subnet: only the gateway's side goes through the tunnel. */
  allowedIps: string;
}

export function wireguardConfig(p: PeerConfig): string {
  return [
    "[Interface]",
    `PrivateKey = ${p.privateKey}`,
    `Address = ${p.address}/32`,
    "",
    "[Peer]",
    `PublicKey = ${p.serverPublicKey}`,
    `AllowedIPs = ${p.allowedIps}`,
    `Endpoint = ${p.endpoint}`,
    // NAT mappings on mobile networks last ~30 s; keep the tunnel open for incoming calls.
    "PersistentKeepalive = 25",
    "",
  ].join("\n");
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Linphone's remote provisioning document. PCMU first (the NGN's codec: no transcoding),
 * RFC 2833 telephone-events for DTMF, no SRTP, no ICE/STUN (the gateway relays media), and
 * applied once (the URL is one-time).
 */
export function linphoneXml(a: SipAccount): string {
  const identity = `${a.displayName ? `"${a.displayName.replace(/["\\]/g, "")}" ` : ""}<sip:${a.user}@${a.server}>`;
  const proxy = `<sip:${a.server}:${a.port};transport=udp>`;
  const entry = (k: string, v: string) => `    <entry name="${k}" overwrite="true">${xmlEscape(v)}</entry>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<config xmlns="http://www.linphone.org/xsds/lpconfig.xsd">',
    '  <section name="sip">',
    entry("default_proxy", "0"),
    entry("media_encryption", "none"),
    // liblinphone reads the DTMF method from [sip] (linphone_core_get_use_rfc2833_for_dtmf):
    // RFC 4733 events in the RTP, which the relay carries to the line; never SIP INFO.
    entry("use_info", "0"),
    entry("use_rfc2833", "1"),
    "  </section>",
    '  <section name="misc">',
    // Apply once: liblinphone then forgets config-uri instead of fetching the spent
    // one-time URL again at every start (and getting 404 each time).
    entry("transient_provisioning", "1"),
    "  </section>",
    '  <section name="net">',
    entry("firewall_policy", "0"),
    entry("stun_server", ""),
    "  </section>",
    '  <section name="rtp">',
    entry("audio_rtp_port", "7078"),
    "  </section>",
    '  <section name="auth_info_0">',
    entry("username", a.user),
    entry("userid", a.user),
    entry("passwd", a.password),
    entry("realm", a.realm),
    "  </section>",
    '  <section name="proxy_0">',
    entry("reg_proxy", proxy),
    entry("reg_route", proxy),
    entry("reg_identity", identity),
    entry("reg_expires", "600"),
    entry("reg_sendregister", "1"),
    entry("publish", "0"),
    entry("avpf", "0"),
    entry("nat_policy_ref", ""),
    "  </section>",
    '  <section name="audio_codec_0">',
    entry("mime", "PCMU"),
    entry("rate", "8000"),
    entry("channels", "1"),
    entry("enabled", "1"),
    "  </section>",
    '  <section name="audio_codec_1">',
    entry("mime", "PCMA"),
    entry("rate", "8000"),
    entry("channels", "1"),
    entry("enabled", "1"),
    "  </section>",
    "</config>",
    "",
  ].join("\n");
}

export function settingsText(a: SipAccount): string {
  return [
    `SIP server:  ${a.server}`,
    `Port:        ${a.port} (UDP)`,
    `User:        ${a.user}`,
    `Password:    ${a.password}`,
    `Domain/realm: ${a.server} / ${a.realm}`,
    "Codecs:      PCMU (G.711 µ-law) first, then PCMA",
    "DTMF:        RFC 2833 (telephone-event)",
    "Encryption:  none (no SRTP)",
    "ICE/STUN:    off",
    "",
  ].join("\n");
}
