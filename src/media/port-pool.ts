/**
 * The pool of RTP/RTCP port pairs from `media.rtp_ports`: RTP on the even port, RTCP on the
 * next odd one (RFC 3550 §11; the NGN refuses odd RTP ports). Free pairs sit in a FIFO ring,
 * so a port freed by one call is reused as late as possible: stray packets of an ended call
 * then find a closed port rather than the next call.
 */
export class PortPool {
  private readonly ring: Int32Array;
  private head = 0;
  private count = 0;
  private readonly inUse: Uint8Array;
  readonly min: number;

  constructor(portMin: number, portMax: number) {
    if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1024 || portMax > 65535 || portMin > portMax) {
      throw new RangeError(`bad RTP port range ${portMin}-${portMax}`);
    }
    this.min = portMin + (portMin % 2); // first even port
    const pairs = Math.max(0, Math.floor((portMax - this.min + 1) / 2));
    if (pairs === 0) throw new RangeError(`RTP port range ${portMin}-${portMax} holds no even/odd pair`);
    this.ring = new Int32Array(pairs);
    this.inUse = new Uint8Array(pairs);
    for (let i = 0; i < pairs; i++) this.ring[i] = this.min + 2 * i;
    this.count = pairs;
  }

  get capacity(): number {
    return this.ring.length;
  }

  get free(): number {
    return this.count;
  }

  /** An even RTP port (RTCP is +1), or -1 when the range is exhausted. */
  take(): number {
    if (this.count === 0) return -1;
    const port = this.ring[this.head]!;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    this.inUse[(port - this.min) >> 1] = 1;
    return port;
  }

  /** Return a pair; returning one that is not taken is a no-op (release is idempotent). */
  give(port: number): void {
    const i = (port - this.min) >> 1;
    if (port % 2 !== 0 || i < 0 || i >= this.ring.length || this.inUse[i] === 0) return;
    this.inUse[i] = 0;
    this.ring[(this.head + this.count) % this.ring.length] = port;
    this.count++;
  }
}
