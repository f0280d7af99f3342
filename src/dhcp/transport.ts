/**
 * What the DHCP client needs from the network: send a DHCP payload from an IP source to an
 * IP destination on the WAN interface, and hear replies to port 68. The raw-socket transport
 * implements it; unit tests inject an in-memory fake.
 */
export interface DhcpTransport {
  /** Send a DHCP message from src:68 to dst:67 (dst 255.255.255.255 = broadcast). */
  send(payload: Buffer, src: string, dst: string): Promise<void>;
  /** Register the single receiver of DHCP payloads addressed to port 68 on the interface. */
  onMessage(handler: (payload: Buffer, from: string) => void): void;
  /** Tell the transport the address now held (null when none), see RawTransport. */
  setLocalAddress(addr: string | null): void;
  close(): Promise<void>;
}
