/**
 * Symmetric-RTP latching for one socket of one side (RTP or RTCP), as rtpengine and Asterisk
 * `nat=comedia` do: the peer's real transport address is learned from the packets it sends,
 * because a phone behind NAT cannot know the address the gateway sees (RFC 4961 symmetric
 * RTP; draft-ietf-mmusic-latching).
 *
 * Policy (rtpengine's `media_packet_address_check()`, simplified):
 *  - A source is ranked against the expected peer from SDP: exact address and port = 3,
 *    same address with another port (a NAT rewrote the port) = 2, anything else = 1.
 *  - Unlatched: the first packet latches its source. Rank 3 latches for good ("final") at once;
 *    a lower rank latches "provisionally".
 *  - Provisional: a source of higher rank takes the latch over (the phone's own packets beat a
 *    stray that came first); other sources are dropped. The latch turns final once the
 *    confirmation window (3 s after the last signalling) has passed: see `confirm()`.
 *  - Final: only the latched source is accepted; everything else is dropped and counted.
 *  - New SDP naming a different peer (re-INVITE: resume elsewhere, new port) unlatches, so the
 *    phone's new address is learned again. SDP naming 0.0.0.0 (RFC 2543 hold) changes nothing.
 *  - A phone whose NAT mapping changed (signalling re-registered from a new source) relearns:
 *    unlatched with the same expected peer, see `relearn()`.
 * Until something is latched, packets towards this peer go to the SDP address (`peerAddr`
 * holds the expected peer then), so the callee hears early media before it sends any.
 */
export const UNLATCHED = 0;
export const PROVISIONAL = 1;
export const FINAL = 2;
export type LatchState = typeof UNLATCHED | typeof PROVISIONAL | typeof FINAL;

/** rtpengine waits 3 s after signalling before it commits to a learned address. */
export const CONFIRM_WINDOW_MS = 3000;

export class Latch {
  /** Where packets for this peer go: the latched source, else the SDP address ("" = none yet). */
  peerAddr = "";
  peerPort = 0;
  state: LatchState = UNLATCHED;
  private rank = 0;
  expAddr = "";
  expPort = 0;
  /** The socket facing this peer is connect()ed to it (set by the session, cleared on unlatch). */
  connected = false;
  connecting = false;
  /** Coarse time after which a provisional latch turns final. */
  private confirmAt = 0;

  reset(): void {
    this.peerAddr = "";
    this.peerPort = 0;
    this.state = UNLATCHED;
    this.rank = 0;
    this.expAddr = "";
    this.expPort = 0;
    this.confirmAt = 0;
  }

  /** From SDP. Returns true when the latch was dropped because the peer moved. */
  expect(address: string, port: number, now: number): boolean {
    if (address === "0.0.0.0" || address === "::" || port <= 0) return false;
    this.confirmAt = now + CONFIRM_WINDOW_MS;
    if (address === this.expAddr && port === this.expPort) return false;
    this.expAddr = address;
    this.expPort = port;
    const moved = this.state !== UNLATCHED && !(this.peerAddr === address && this.peerPort === port);
    if (this.state === UNLATCHED || moved) {
      this.state = UNLATCHED;
      this.rank = 0;
      this.peerAddr = address;
      this.peerPort = port;
    } else if (this.state === PROVISIONAL) {
      // The provisional source is exactly the new expected peer: nothing better can come.
      this.state = FINAL;
      this.rank = 3;
    }
    return moved;
  }

  /**
   * The phone's transport address changed without new SDP (its signalling came back from a new
   * NAT mapping): forget the latched source and learn again. The expected peer is kept, so
   * ranking works as usual (the phone's own SDP address latches for good at once, any other
   * source provisionally until the window from now has passed), and so is the destination:
   * until a new source shows up, the other side's media still goes to the last known one.
   */
  relearn(now: number): void {
    this.state = UNLATCHED;
    this.rank = 0;
    this.confirmAt = now + CONFIRM_WINDOW_MS;
  }

  /**
   * Slow path, for a packet whose source is not the latched peer (or nothing is latched).
   * Returns true when the packet is admitted (and the latch moved to its source).
   */
  admit(address: string, port: number, now: number): boolean {
    if (this.state === FINAL) return address === this.peerAddr && port === this.peerPort;
    const rank = address === this.expAddr ? (port === this.expPort ? 3 : 2) : 1;
    if (this.state === PROVISIONAL) {
      if (address === this.peerAddr && port === this.peerPort) return true;
      if (rank <= this.rank) return false;
    } else if (this.confirmAt === 0) {
      this.confirmAt = now + CONFIRM_WINDOW_MS;
    }
    this.peerAddr = address;
    this.peerPort = port;
    this.rank = rank;
    this.state = rank === 3 ? FINAL : PROVISIONAL;
    return true;
  }

  /** Coarse tick: a provisional latch turns final once signalling has been quiet long enough. */
  confirm(now: number): boolean {
    if (this.state === PROVISIONAL && now >= this.confirmAt) {
      this.state = FINAL;
      return true;
    }
    return false;
  }
}
