/**
 * The configuration schema: one zod schema that yields both validation and the type.
 * Keys stay snake_case everywhere (YAML, type, error paths, docs), as docs/design.md names them.
 * Defaults live here and only here.
 *
 * Built by a call, not held by the module: the gateway keeps the parsed config, not the schema,
 * so the schema objects (with the parsers zod compiles into them on the first parse) are garbage
 * once the config is loaded: ~0.3 MB less V8 heap at idle. Loaded modules stay for the process's
 * life, and a schema held in a module constant would stay with them.
 */
import { z } from "zod/mini";
import { parseCidr } from "../net/allow-list.js";
import { DEFAULT_PREMIUM_PREFIXES } from "../pbx/toll.js";
import { limitsSchema } from "./limits-schema.js";
import { block, digits, int, str } from "./schema-parts.js";
import { voicemailSchema } from "./voicemail-schema.js";

const portNumber = () => int(z.minimum(1), z.maximum(65535));

/** "50000-59999": even start, at least one RTP/RTCP pair. */
const portRange = () =>
  str(
    z.regex(/^\d{1,5}-\d{1,5}$/, 'expected "MIN-MAX", e.g. "50000-59999"'),
    z.refine((s: string) => {
      const [a, b] = s.split("-").map(Number);
      return a >= 1024 && b <= 65535 && b > a;
    }, "expected 1024 <= MIN < MAX <= 65535"),
  );

/** "10.8.0.0/24" (an address alone means /32). */
const cidr = () => str(z.refine((s: string) => parseCidr(s) !== undefined, 'expected a network like "10.8.0.0/24" or an address'));

const topic = () => str(z.regex(/^[^#+\s]+$/, "no spaces, # or + in a topic"));

const extension = () =>
  z.strictObject({
    number: str(z.regex(/^[0-9]{2,15}$/, 'expected digits, e.g. "801"')),
    password: str(z.minLength(4, "must be at least 4 characters")),
    name: z.optional(z.string()),
    /** Which of the line's numbers this extension calls out with (main or an additional one). */
    caller_id: z.optional(digits()),
  });

const dialplanRule = () =>
  z.strictObject({
    match: str(
      z.refine((s: string) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, "not a valid regular expression"),
    ),
    /** "extension", "trunk", or the number of an extension to ring. */
    to: str(z.minLength(1)),
    /** This rule may send international numbers (010…, 00XY…) to the trunk. */
    allow_international: z.optional(z.boolean()),
    /** This rule may send premium-rate numbers (pbx.premium_prefixes) to the trunk. */
    allow_premium: z.optional(z.boolean()),
  });

/**
 * `vpn.wireguard`: the built-in WireGuard server the phones dial from anywhere. The gateway
 * owns the interface; peers are the phones added with `hikari-gw phone add`.
 */
const vpnWireguard = () =>
  block({
    enabled: z._default(z.boolean(), false),
    /** UDP port the interface listens on (the home router forwards it). */
    port: z._default(portNumber(), 51820),
    /** Tunnel subnet, IPv4 /16–/30; the gateway takes the first host address. */
    subnet: z._default(str(z.regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-9]|30)$/, 'expected an IPv4 subnet like "10.8.0.0/24"')), "10.8.0.0/24"),
    /** The public host:port the phones dial (written into their WireGuard config). */
    endpoint: z.optional(str(z.regex(/^[^\s:]+:\d{1,5}$/, 'expected "host:port", e.g. "home.example.net:51820"'))),
    /** Interface name. */
    interface: z._default(str(z.regex(/^[a-zA-Z0-9_-]{1,15}$/, "expected an interface name (1-15 characters)")), "hgw0"),
  });

/** A new schema for the whole file: validate with it and let it go (see above). */
export const configSchema = () =>
  z.strictObject({
    wan: block({
      /** The port wired to the ONU; "none" runs without WAN (no DHCP, trunk needs manual server). */
      interface: z._default(str(z.minLength(1)), "eth0"),
      /** MAC sent in options 61/124, if not the interface's own (some lines want the home gateway's). */
      mac: z.optional(str(z.regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, "expected a MAC like 00:11:22:33:44:55"))),
      /** nftables rules by arrival interface: the trunk hears only this port, the LAN listener never does. */
      guard: z._default(z.enum(["nftables", "none"]), "nftables"),
      dhcp: block({
        request_options: z._default(z.array(int(z.minimum(1), z.maximum(254))), [1, 3, 6, 15, 28, 33, 51, 54, 58, 59, 120, 121, 125]),
        vendor_class: z.optional(z.string()),
        default_route: z._default(z.boolean(), false),
        release_on_shutdown: z._default(z.boolean(), false),
        enterprise: z._default(int(z.minimum(0)), 210),
        number_code: z._default(int(z.minimum(1), z.maximum(255)), 202),
        additional_code: z._default(int(z.minimum(1), z.maximum(255)), 203),
        domain_code: z._default(int(z.minimum(1), z.maximum(255)), 204),
      }),
    }),
    trunk: block({
      enabled: z._default(z.boolean(), true),
      /** Overrides for what the lease says. */
      server: z.optional(z.string()),
      server_port: z._default(portNumber(), 5060),
      domain: z.optional(z.string()),
      number: z.optional(digits()),
      additional_numbers: z._default(z.array(digits()), []),
      user: z.optional(z.string()),
      password: z.optional(z.string()),
      register_expires: z._default(int(z.minimum(60), z.maximum(86400)), 3600),
      /** Refresh at this fraction of the granted expiry (NGN: 40–50 %). */
      refresh_ratio: z._default(z.number().check(z.minimum(0.2), z.maximum(0.9)), 0.45),
      /** Concurrent calls the line allows (1, or 2 with the "double channel" option). */
      channels: z._default(int(z.minimum(1), z.maximum(8)), 1),
      local_port: z._default(portNumber(), 5060),
      /** Our WAN address when there is no DHCP (wan.interface "none", a provider set by hand). */
      local_address: z.optional(z.string()),
      session_expires: z._default(int(z.minimum(90)), 300),
    }),
    lan: block({
      listen: z._default(str(z.minLength(1)), "0.0.0.0"),
      /** Networks (CIDR) that may reach the LAN SIP listener; default: the listening interfaces' subnets and loopback. */
      allow: z.optional(z.array(cidr()).check(z.minLength(1, "list at least one network, e.g. 10.8.0.0/24"))),
      port: z._default(portNumber(), 5060),
      /** Address written into SDP/Contact toward phones when listen is 0.0.0.0. */
      advertise: z.optional(z.string()),
    }),
    extensions: z._default(z.array(extension()), []),
    inbound: block({
      ring: z._default(z.array(z.string()), []),
      /** Per called number (main or additional): who rings. Unlisted numbers use `ring`. */
      numbers: z.prefault(z.record(z.string(), z.array(z.string())), {}),
    }),
    dialplan: z._default(z.array(dialplanRule()), [
      { match: "^80[1-9]$", to: "extension" },
      { match: "^0[0-9]+$", to: "trunk" },
    ]),
    pbx: block({
      ring_timeout_s: z._default(int(z.minimum(5), z.maximum(600)), 45),
      realm: z.optional(z.string()),
      min_expires: z._default(int(z.minimum(10)), 60),
      max_expires: z._default(int(z.minimum(60)), 3600),
      nonce_ttl_s: z._default(int(z.minimum(10)), 300),
      lockout_failures: z._default(int(z.minimum(1)), 5),
      lockout_s: z._default(int(z.minimum(1)), 300),
      dnd: z._default(z.boolean(), false),
      /** REFER between extensions; never on calls with the line (a transfer from it is toll fraud). */
      allow_transfer: z._default(z.boolean(), false),
      /** International numbers (010…, 00XY…) out on the line, for every dialplan rule. */
      allow_international: z._default(z.boolean(), false),
      /** Pay-per-call prefixes refused unless a dialplan rule says allow_premium. */
      premium_prefixes: z._default(z.array(str(z.regex(/^0[0-9]{1,5}$/, 'expected a prefix like "0570"'))), [...DEFAULT_PREMIUM_PREFIXES]),
      /** Calls one extension may place at once; beyond: 486. */
      max_calls_per_extension: z._default(int(z.minimum(1)), 4),
      /** Calls at once in all; beyond: 503. */
      max_calls: z._default(int(z.minimum(1)), 16),
      /** A call is hung up (BYE both sides) after this long; 0 = no limit. */
      max_call_s: z._default(int(z.minimum(0)), 14400),
    }),
    media: block({
      rtp_ports: z._default(portRange(), "50000-59999"),
      timeout_s: z._default(int(z.minimum(5)), 60),
      offload: z._default(z.enum(["auto", "none", "nftables"]), "auto"),
    }),
    mqtt: block({
      /** mqtt://host:port or mqtts://host:port (an existing broker), "embedded" (aedes in this process), or "none". */
      server: z
        ._default(z.string(), "none")
        .check(z.refine((s: string) => s === "none" || s === "embedded" || /^mqtts?:\/\/[^\s/]+/.test(s), 'expected "none", "embedded" or mqtt://host[:port] / mqtts://host[:port]')),
      base_topic: z._default(topic(), "hikari-gw"),
      discovery_prefix: z._default(topic(), "homeassistant"),
      /** Home Assistant discovery on/off. */
      discovery: z._default(z.boolean(), true),
      username: z.optional(z.string()),
      password: z.optional(z.string()),
      client_id: z.optional(z.string()),
      /** mqtts: a PEM file with the CA that signed the broker's certificate. */
      ca: z.optional(z.string()),
      reject_unauthorized: z._default(z.boolean(), true),
      /** embedded: where the broker listens, and whether clients may connect without username/password. */
      listen: z._default(str(z.minLength(1)), "127.0.0.1"),
      port: z._default(portNumber(), 1883),
      allow_anonymous: z._default(z.boolean(), false),
      /**
       * The extension a `dial` request (click-to-dial: MQTT, Home Assistant's text entity,
       * `hikari-gw dial`) rings when it names none; without it, the only extension when
       * there is exactly one.
       */
      dial_extension: z.optional(str(z.regex(/^[0-9]{2,15}$/, "an extension number (digits)"))),
      /** How many recent calls `<base>/calls` keeps. */
      calls_kept: z._default(int(z.minimum(1), z.maximum(200)), 20),
      /** Events kept while the broker is away (the oldest dropped first, counted in the log). */
      queue_max: z._default(int(z.minimum(0), z.maximum(100000)), 1000),
    }),
    /** Number → name for callers and called numbers; `file` adds a CSV of "number,name" lines. */
    phonebook: block({
      numbers: z._default(z.record(z.string(), str(z.minLength(1))), {}),
      file: z.optional(z.string()),
    }),
    /** Inbound callers refused without ringing anyone, reported as `rejected`. */
    blocklist: block({
      numbers: z._default(z.array(digits()), []),
      /** Also refuse callers who withhold their number. */
      withheld: z._default(z.boolean(), false),
      /** What the line hears: 486 Busy Here or 603 Decline. */
      status: z._default(z.union([z.literal(486), z.literal(603)]), 486),
    }),
    log: block({
      level: z._default(z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]), "info"),
      /** Log every SIP message in full (debug aid; verbose). */
      sip_messages: z._default(z.boolean(), false),
    }),
    vpn: block({
      wireguard: vpnWireguard(),
      /** HTTP port of the one-time Linphone provisioning URLs (tunnel/LAN address only). */
      provision_port: z._default(portNumber(), 8580),
    }),
    state_dir: z._default(str(z.minLength(1)), "/var/lib/hikari-gw"),
    limits: limitsSchema(),
    voicemail: voicemailSchema(),
  });

export type Config = z.output<ReturnType<typeof configSchema>>;
export type ConfigInput = z.input<ReturnType<typeof configSchema>>;
