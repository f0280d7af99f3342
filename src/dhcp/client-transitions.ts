/**
 * The DHCP client's allowed state transitions: RFC 2131 §4.4, figure 5, plus "stopped"
 * (before start() and after stop(), which the figure does not draw). The machine in
 * client-fsm.ts refuses any move not listed here, so a timer or reply arriving in the wrong
 * state can never put it somewhere the RFC does not go.
 */
export type DhcpState = "stopped" | "init" | "selecting" | "requesting" | "init-reboot" | "rebooting" | "bound" | "renewing" | "rebinding";

export const DHCP_TRANSITIONS: Readonly<Record<DhcpState, readonly DhcpState[]>> = {
  // start(): INIT-REBOOT with a saved, unexpired lease (§4.4.2), else INIT.
  stopped: ["init", "init-reboot", "stopped"],
  // §4.4.1: after the random wait, DHCPDISCOVER.
  init: ["selecting", "stopped"],
  // §4.4.1: an acceptable DHCPOFFER, DHCPREQUEST.
  selecting: ["requesting", "stopped"],
  // §4.4.1: DHCPACK binds; DHCPNAK (or no answer, §3.1 step 5) back to INIT.
  requesting: ["bound", "init", "stopped"],
  // §4.4.2: DHCPREQUEST for the saved address.
  "init-reboot": ["rebooting", "stopped"],
  // §4.4.2: DHCPACK binds; DHCPNAK (or no answer, §3.2) back to INIT.
  rebooting: ["bound", "init", "stopped"],
  // §4.4.5: T1 expires.
  bound: ["renewing", "stopped"],
  // §4.4.5: DHCPACK extends the lease; T2 expires; DHCPNAK back to INIT.
  renewing: ["bound", "rebinding", "init", "stopped"],
  // §4.4.5: DHCPACK extends the lease; DHCPNAK or the lease running out, back to INIT.
  rebinding: ["bound", "init", "stopped"],
};

export function dhcpTransitionAllowed(from: DhcpState, to: DhcpState): boolean {
  return DHCP_TRANSITIONS[from].includes(to);
}
