/**
 * Where bench:rtp runs: two network namespaces joined by one veth pair, the relay in
 * "relay" (198.19.250.1) and the load tool in "load" (198.19.250.2). On loopback every
 * packet's kernel work (netfilter, routing, the socket enqueue) runs in softirq on the CPU
 * that SENT it, i.e. the load core, so kernel forwarding (offload mode) was billed to the load
 * tool and the load core ran out first. With a veth and RPS each side's receive path runs on
 * its own side's core: the relay core pays for what the relay host does (including the
 * offloaded DNAT/SNAT forwarding), the load core for the load host, like two real hosts.
 */
import { Lab } from "../../test/lab/netns.js";

export const RELAY_ADDR = "198.19.250.1";
export const LOAD_ADDR = "198.19.250.2";

export class BenchTopology {
  readonly lab = new Lab("hgwbrtp");
  readonly relayNs: string;
  readonly loadNs: string;

  constructor() {
    this.relayNs = this.lab.addHost("relay");
    this.loadNs = this.lab.addHost("load");
    this.lab.link({ host: "relay", ifname: "rtp0", addr: `${RELAY_ADDR}/30` }, { host: "load", ifname: "rtp0", addr: `${LOAD_ADDR}/30` });
    // RPS (Documentation/networking/scaling.rst): receive processing of each end on its core.
    this.lab.exec("relay", "sh", ["-c", "echo 1 > /sys/class/net/rtp0/queues/rx-0/rps_cpus"]);
    this.lab.exec("load", "sh", ["-c", "echo 2 > /sys/class/net/rtp0/queues/rx-0/rps_cpus"]);
    // Offload hairpins the streams back out of rtp0: routing on, and no ICMP redirects for it.
    for (const k of ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.rtp0.send_redirects=0"]) this.lab.exec("relay", "sysctl", ["-qw", k]);
    for (const host of ["relay", "load"]) this.lab.exec(host, "ip", ["link", "set", "rtp0", "txqueuelen", "10000"]);
  }

  /** The argv that runs `cmd` inside a namespace (to be wrapped in taskset/chrt by the caller). */
  inRelay(cmd: string[]): string[] {
    return ["ip", "netns", "exec", this.relayNs, ...cmd];
  }

  inLoad(cmd: string[]): string[] {
    return ["ip", "netns", "exec", this.loadNs, ...cmd];
  }

  /** Ports in the relay's nftables `offloaded` set (0 when the table is absent). */
  offloadedPorts(): number {
    try {
      const out = this.lab.exec("relay", "nft", ["list", "set", "ip", "hikari_gw", "offloaded"]);
      const m = /elements = \{([^}]*)\}/s.exec(out);
      return m ? m[1]!.split(",").filter((x) => x.trim() !== "").length : 0;
    } catch {
      return 0;
    }
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
  }
}
