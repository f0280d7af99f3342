/**
 * The configuration schema: one zod schema that yields both validation and the type.
 * Keys stay snake_case everywhere (YAML, type, error paths, docs), as docs/design.md names them.
 * Defaults live here and only here.
 */
import { z } from "zod";
import { parseCidr } from "../net/allow-list.js";
import { DEFAULT_PREMIUM_PREFIXES } from "../pbx/toll.js";
import { limitsSchema } from "./limits-schema.js";
import { voicemailSchema } from "./voicemail-schema.js";

const portNumber = z.number().int().min(1).max(65535);

/** "50000-59999": even start, at least one RTP/RTCP pair. */
const portRange = z
  .string()
  .regex(/^\d{1,5}-\d{1,5}$/, 'expected "MIN-MAX", e.g. "50000-59999"')
  .refine((s) => {
    const [a, b] = s.split("-").map(Number);
    return a >= 1024 && b <= 65535 && b > a;
  }, "expected 1024 <= MIN < MAX <= 65535");

/** "10.8.0.0/24" (an address alone means /32). */
const cidr = z.string().refine((s) => parseCidr(s) !== undefined, 'expected a network like "10.8.0.0/24" or an address');

const digits = z.string().regex(/^[0-9*#+]+$/, "expected a phone number (digits)");

const extension = z
  .object({
    number: z.string().regex(/^[0-9]{2,15}$/, "expected digits, e.g. \"801\""),
    password: z.string().min(4, "must be at least 4 characters"),
    name: z.string().optional(),
    /** Which of the line's numbers this extension calls out with (main or an additional one). */
    caller_id: digits.optional(),
  })
  .strict();

const dialplanRule = z
  .object({
    match: z.string().refine((s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    }, "not a valid regular expression"),
    /** "extension", "trunk", or the number of an extension to ring. */
    to: z.string().min(1),
    /** This rule may send international numbers (010…, 00XY…) to the trunk. */
    allow_international: z.boolean().optional(),
    /** This rule may send premium-rate numbers (pbx.premium_prefixes) to the trunk. */
    allow_premium: z.boolean().optional(),
  })
  .strict();


/**
 * `vpn.wireguard`: the built-in WireGuard server the phones dial from anywhere. The gateway
 * owns the interface; peers are the phones added with `hikari-gw phone add`.
 */
const vpnWireguard = z
  .object({
    enabled: z.boolean().default(false),
    /** UDP port the interface listens on (the home router forwards it). */
    port: portNumber.default(51820),
    /** Tunnel subnet, IPv4 /16–/30; the gateway takes the first host address. */
    subnet: z
      .string()
      .regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-9]|30)$/, 'expected an IPv4 subnet like "10.8.0.0/24"')
      .default("10.8.0.0/24"),
    /** The public host:port the phones dial (written into their WireGuard config). */
    endpoint: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected "host:port", e.g. "home.example.net:51820"').optional(),
    /** Interface name. */
    interface: z.string().regex(/^[a-zA-Z0-9_-]{1,15}$/, "expected an interface name (1-15 characters)").default("hgw0"),
  })
  .strict()
  .prefault({});

export const configSchema = z
  .object({
    wan: z
      .object({
        /** The port wired to the ONU; "none" runs without WAN (no DHCP, trunk needs manual server). */
        interface: z.string().min(1).default("eth0"),
        /** MAC sent in options 61/124, if not the interface's own (some lines want the home gateway's). */
        mac: z
          .string()
          .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, "expected a MAC like 00:11:22:33:44:55")
          .optional(),
        /** nftables rules by arrival interface: the trunk hears only this port, the LAN listener never does. */
        guard: z.enum(["nftables", "none"]).default("nftables"),
        dhcp: z
          .object({
            request_options: z.array(z.number().int().min(1).max(254)).default([1, 3, 6, 15, 28, 33, 51, 54, 58, 59, 120, 121, 125]),
            vendor_class: z.string().optional(),
            default_route: z.boolean().default(false),
            release_on_shutdown: z.boolean().default(false),
            enterprise: z.number().int().nonnegative().default(210),
            number_code: z.number().int().min(1).max(255).default(202),
            additional_code: z.number().int().min(1).max(255).default(203),
            domain_code: z.number().int().min(1).max(255).default(204),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    trunk: z
      .object({
        enabled: z.boolean().default(true),
        /** Overrides for what the lease says. */
        server: z.string().optional(),
        server_port: portNumber.default(5060),
        domain: z.string().optional(),
        number: digits.optional(),
        additional_numbers: z.array(digits).default([]),
        user: z.string().optional(),
        password: z.string().optional(),
        register_expires: z.number().int().min(60).max(86400).default(3600),
        /** Refresh at this fraction of the granted expiry (NGN: 40–50 %). */
        refresh_ratio: z.number().min(0.2).max(0.9).default(0.45),
        /** Concurrent calls the line allows (1, or 2 with the "double channel" option). */
        channels: z.number().int().min(1).max(8).default(1),
        local_port: portNumber.default(5060),
        /** Our WAN address when there is no DHCP (wan.interface "none", a provider set by hand). */
        local_address: z.string().optional(),
        session_expires: z.number().int().min(90).default(300),
      })
      .strict()
      .prefault({}),
    lan: z
      .object({
        listen: z.string().min(1).default("0.0.0.0"),
        /** Networks (CIDR) that may reach the LAN SIP listener; default: the listening interfaces' subnets and loopback. */
        allow: z.array(cidr).min(1, "list at least one network, e.g. 10.8.0.0/24").optional(),
        port: portNumber.default(5060),
        /** Address written into SDP/Contact toward phones when listen is 0.0.0.0. */
        advertise: z.string().optional(),
      })
      .strict()
      .prefault({}),
    extensions: z.array(extension).default([]),
    inbound: z
      .object({
        ring: z.array(z.string()).default([]),
        /** Per called number (main or additional): who rings. Unlisted numbers use `ring`. */
        numbers: z.record(z.string(), z.array(z.string())).prefault({}),
      })
      .strict()
      .prefault({}),
    dialplan: z
      .array(dialplanRule)
      .default([
        { match: "^80[1-9]$", to: "extension" },
        { match: "^0[0-9]+$", to: "trunk" },
      ]),
    pbx: z
      .object({
        ring_timeout_s: z.number().int().min(5).max(600).default(45),
        realm: z.string().optional(),
        min_expires: z.number().int().min(10).default(60),
        max_expires: z.number().int().min(60).default(3600),
        nonce_ttl_s: z.number().int().min(10).default(300),
        lockout_failures: z.number().int().min(1).default(5),
        lockout_s: z.number().int().min(1).default(300),
        dnd: z.boolean().default(false),
        /** REFER between extensions; never on calls with the line (a transfer from it is toll fraud). */
        allow_transfer: z.boolean().default(false),
        /** International numbers (010…, 00XY…) out on the line, for every dialplan rule. */
        allow_international: z.boolean().default(false),
        /** Pay-per-call prefixes refused unless a dialplan rule says allow_premium. */
        premium_prefixes: z.array(z.string().regex(/^0[0-9]{1,5}$/, 'expected a prefix like "0570"')).default([...DEFAULT_PREMIUM_PREFIXES]),
        /** Calls one extension may place at once; beyond: 486. */
        max_calls_per_extension: z.number().int().min(1).default(4),
        /** Calls at once in all; beyond: 503. */
        max_calls: z.number().int().min(1).default(16),
        /** A call is hung up (BYE both sides) after this long; 0 = no limit. */
        max_call_s: z.number().int().min(0).default(14400),
      })
      .strict()
      .prefault({}),
    media: z
      .object({
        rtp_ports: portRange.default("50000-59999"),
        timeout_s: z.number().int().min(5).default(60),
        offload: z.enum(["auto", "none", "nftables"]).default("auto"),
      })
      .strict()
      .prefault({}),
    mqtt: z
      .object({
        /** mqtt://host:port or mqtts://host:port (an existing broker), "embedded" (aedes in this process), or "none". */
        server: z
          .string()
          .default("none")
          .refine((s) => s === "none" || s === "embedded" || /^mqtts?:\/\/[^\s/]+/.test(s), 'expected "none", "embedded" or mqtt://host[:port] / mqtts://host[:port]'),
        base_topic: z.string().regex(/^[^#+\s]+$/, "no spaces, # or + in a topic").default("hikari-gw"),
        discovery_prefix: z.string().regex(/^[^#+\s]+$/, "no spaces, # or + in a topic").default("homeassistant"),
        /** Home Assistant discovery on/off. */
        discovery: z.boolean().default(true),
        username: z.string().optional(),
        password: z.string().optional(),
        client_id: z.string().optional(),
        /** mqtts: a PEM file with the CA that signed the broker's certificate. */
        ca: z.string().optional(),
        reject_unauthorized: z.boolean().default(true),
        /** embedded: where the broker listens, and whether clients may connect without username/password. */
        listen: z.string().min(1).default("127.0.0.1"),
        port: portNumber.default(1883),
        allow_anonymous: z.boolean().default(false),
        /**
         * The extension a `dial` request (click-to-dial: MQTT, Home Assistant's text entity,
         * `hikari-gw dial`) rings when it names none; without it, the only extension when
         * there is exactly one.
         */
        dial_extension: z.string().regex(/^[0-9]{2,15}$/, "an extension number (digits)").optional(),
        /** How many recent calls `<base>/calls` keeps. */
        calls_kept: z.number().int().min(1).max(200).default(20),
        /** Events kept while the broker is away (the oldest dropped first, counted in the log). */
        queue_max: z.number().int().min(0).max(100000).default(1000),
      })
      .strict()
      .prefault({}),
    /** Number → name for callers and called numbers; `file` adds a CSV of "number,name" lines. */
    phonebook: z
      .object({
        numbers: z.record(z.string(), z.string().min(1)).default({}),
        file: z.string().optional(),
      })
      .strict()
      .prefault({}),
    /** Inbound callers refused without ringing anyone, reported as `rejected`. */
    blocklist: z
      .object({
        numbers: z.array(digits).default([]),
        /** Also refuse callers who withhold their number. */
        withheld: z.boolean().default(false),
        /** What the line hears: 486 Busy Here or 603 Decline. */
        status: z.union([z.literal(486), z.literal(603)]).default(486),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
        /** Log every SIP message in full (debug aid; verbose). */
        sip_messages: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    vpn: z
      .object({
        wireguard: vpnWireguard,
        /** HTTP port of the one-time Linphone provisioning URLs (tunnel/LAN address only). */
        provision_port: portNumber.default(8580),
      })
      .strict()
      .prefault({}),
    state_dir: z.string().min(1).default("/var/lib/hikari-gw"),
    limits: limitsSchema,
    voicemail: voicemailSchema,
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
