/**
 * Counts UDP datagrams seen on a lab host's interface (tshark), to show that media really
 * flowed through the gateway: the phones only ever talk to the gateway's address.
 */
import type { Lab } from "../netns.js";
import { join } from "node:path";
import { execFileSync, type ChildProcess } from "node:child_process";
import { waitForLine } from "../netns.js";

export interface UdpFlow {
  src: string;
  dst: string;
  packets: number;
}

export interface Capture {
  stop(): Promise<UdpFlow[]>;
}

/** Starts tshark on `ifname` in `host`, for UDP other than SIP (port 5060), for at most maxS. */
export async function startCapture(lab: Lab, host: string, ifname: string, dir: string, maxS: number): Promise<Capture> {
  const file = join(dir, `${host}.pcap`);
  const child: ChildProcess = lab.spawn(host, "tshark", ["-i", ifname, "-f", "udp and not port 5060", "-a", `duration:${maxS}`, "-w", file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await waitForLine(child, /Capturing on/, 10_000, "stderr");
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGINT");
        await new Promise((r) => child.once("exit", r));
      }
      const out = execFileSync("tshark", ["-r", file, "-T", "fields", "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport"], { encoding: "utf8" });
      const flows = new Map<string, UdpFlow>();
      for (const line of out.split("\n")) {
        const [sa, sp, da, dp] = line.split("\t");
        if (!sa || !dp) continue;
        const key = `${sa}:${sp}>${da}:${dp}`;
        const f = flows.get(key) ?? { src: `${sa}:${sp}`, dst: `${da}:${dp}`, packets: 0 };
        f.packets++;
        flows.set(key, f);
      }
      return [...flows.values()];
    },
  };
}
