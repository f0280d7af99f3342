/**
 * Names, addresses and line data of the NGN emulator, in one place so the trunk lab tests
 * (issue 5) and the emulator's self-test use the same values. Addresses come only from
 * 198.18.0.0/15 (RFC 2544): nothing here can reach a real network.
 *
 *   [wan host] wan0 ──veth── ngn0 [hgwngn-ngn]   lo: 198.18.5.1 (P-CSCF), 198.18.5.2 (media)
 *   lease 198.18.4.2/30        198.18.4.1/30 (the /30 peer; option 3 and option 121's gateway)
 *   after changeLease():       198.18.4.5/30 peer, lease 198.18.4.6 (a second /30 on the link)
 */
export const NGN_LAB = {
  /** Lab prefix of the self-test (namespace "hgwngn-ngn"); trunk tests may use their own Lab. */
  prefix: "hgwngn",
  /** Host (namespace suffix) of the emulator. */
  host: "ngn",
  /** The emulator's end of the access link, inside its namespace. */
  accessIf: "ngn0",
  /** Default name of the gateway's WAN end of the access link. */
  wanIf: "wan0",
  /** Default MAC of the gateway's WAN end (option 125 sub-option 201 echoes it). */
  wanMac: "02:00:5e:12:04:02",
  /** The two /30s the line can hand out: index 0 at start, index 1 after changeLease(). */
  subnets: [
    { peer: "198.18.4.1", lease: "198.18.4.2", prefixLen: 30, netmask: "255.255.255.252" },
    { peer: "198.18.4.5", lease: "198.18.4.6", prefixLen: 30, netmask: "255.255.255.252" },
  ],
  /** The NGN's prefix, reached only through option 121's route (never a default route). */
  ngnPrefix: "198.18.5.0/24",
  /** SIP server (P-CSCF) handed out in option 120; the emulator's front listens here:5060. */
  pcscf: "198.18.5.1",
  sipPort: 5060,
  /** Where the NGN's media (SIPp's RTP echo) lives: another address than the P-CSCF, as on a line. */
  media: "198.18.5.2",
  mediaPort: 16000,
  /** Internal ports of the SIPp roles behind the front (same address as the P-CSCF). */
  uasPort: 5062,
  uacPort: 5064,
  /** A second caller beside the first, for two calls at once on a two-channel line (its RTP echo on mediaPort + 20). */
  uac2Port: 5066,
  domain: "ntt-east.ne.jp",
  mainNumber: "0312345678",
  additionalNumber: "0312345679",
  /** A caller that rings the line in inbound-call scenarios. */
  callerNumber: "0398765432",
  /** dnsmasq's shortest lease (it refuses less than 120 s); T1/T2 follow as 1/2 and 7/8. */
  leaseSeconds: 120,
} as const;

export type NgnLab = typeof NGN_LAB;
