/**
 * The built image as the product: firmware/test-boot.sh boots it under qemu with its virtio NIC
 * (eth0 inside, as on the Pi) on a tap device bridged to the lab's NGN emulator (dnsmasq with the
 * line's options 120/121/125, the strict P-CSCF front), a config on the FAT partition that names
 * nothing but `wan: { interface: eth0 }`, and waits for the service's STATUS= "trunk registered".
 * Passes when test-boot.sh passes and the emulator answered the image's REGISTER with 200. The
 * last lines repeat the probe's figures of the registered, idle gateway's memory (test-boot.sh).
 *
 *   [hgwboot-vm] tap0 ─ br0 ─ wan0 ──veth── ngn0 [hgwboot-ngn]  dnsmasq · P-CSCF 198.18.5.1:5060
 *     qemu-system-aarch64 (the image; eth0 = tap0's other end)
 *
 * Not in `npm test` (the image takes ~15-35 min to build and ~8 min to boot here):
 *   npm run image && npm run test:boot:ngn [-- IMAGE]      (root; under the lab lock)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import { NGN_LAB } from "./ngn/addresses.js";
import { startNgn, type Ngn } from "./ngn/emulator.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));

const CONFIG = `# written by test/lab/boot-ngn.ts, as a user would on the boot partition: only the WAN port
wan: { interface: eth0 }
trunk: { enabled: true }
lan: { listen: 127.0.0.1, port: 5060 }
extensions:
  - { number: "801", password: "boot-test-801", name: Probe }
mqtt: { server: none }
log: { level: info }
`;

async function main(): Promise<number> {
  if (!labReady("boot-ngn", ["qemu-system-aarch64", "dnsmasq", "tshark", "mcopy", "debugfs", "sfdisk"])) return 2;
  const lab = new Lab("hgwboot");
  const dir = mkdtempSync(join(tmpdir(), "hgwboot-"));
  let ngn: Ngn | undefined;
  try {
    lab.addHost("vm");
    ngn = await startNgn(lab, { wanHost: "vm", wanIf: "wan0", outbound: false });
    // The VM's NIC is the line's client (its MAC is the one option 125 echoes); the veth end in
    // between only carries frames through the bridge, with a MAC of its own.
    lab.exec("vm", "ip", ["link", "set", "wan0", "address", "02:00:5e:12:04:99"]);
    lab.exec("vm", "ip", ["link", "add", "br0", "type", "bridge"]);
    lab.exec("vm", "ip", ["tuntap", "add", "dev", "tap0", "mode", "tap"]);
    for (const l of ["wan0", "tap0"]) lab.exec("vm", "ip", ["link", "set", l, "master", "br0"]);
    for (const l of ["br0", "tap0"]) lab.exec("vm", "ip", ["link", "set", l, "up"]);
    writeFileSync(join(dir, "hikari-gw.yaml"), CONFIG);

    const t0 = Date.now();
    const boot = spawn(join(repo, "firmware/test-boot.sh"), process.argv.slice(2), {
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        HGW_BOOT_WAN_NETNS: lab.ns("vm"),
        HGW_BOOT_WAN_TAP: "tap0",
        HGW_BOOT_WAN_MAC: NGN_LAB.wanMac,
        HGW_BOOT_CONFIG: join(dir, "hikari-gw.yaml"),
        HGW_BOOT_STATUS: `trunk registered as ${NGN_LAB.mainNumber}`,
      },
    });
    // Shown as it comes, and kept for the summary's memory line (test-boot.sh prints ~100 lines).
    let out = "";
    boot.stdout!.on("data", (d: Buffer) => {
      process.stdout.write(d);
      out = (out + d.toString()).slice(-200_000);
    });
    const code = await new Promise<number>((resolve) => boot.on("close", (c) => resolve(c ?? 1)));
    const secs = Math.round((Date.now() - t0) / 1000);

    // What the NGN saw of the booted image: its DHCP exchange, its REGISTER, the answer.
    console.log(`\n--- NGN emulator (dnsmasq) ---\n${ngn.dhcpLog.filter((l) => /DHCP(DISCOVER|OFFER|REQUEST|ACK|NAK)/.test(l)).join("\n")}`);
    const reg = ngn.sipLog.find((e) => e.ev === "rx" && /^REGISTER /.test(e.text ?? ""));
    const ok200 = ngn.sipLog.find((e) => e.note === "200 registered");
    console.log(`--- NGN emulator (P-CSCF): first REGISTER from the image ---\n${(reg?.text ?? "(none)").replace(/\r/g, "")}`);
    console.log(`--- P-CSCF notes ---\n${ngn.sipLog.filter((e) => e.note).map((e) => `${e.peer ?? ""} ${e.note}`).join("\n")}`);
    const registered = ok200 !== undefined && (ok200.peer ?? "").startsWith(`${NGN_LAB.subnets[0].lease}:`);
    console.log(`boot-ngn: test-boot.sh exit ${code} in ${secs}s; REGISTER answered 200 from the image's lease ${NGN_LAB.subnets[0].lease}: ${registered ? "yes" : "NO"}`);
    // The idle gateway's memory at "trunk registered" (the probe's samples; reported, not judged).
    console.log(`boot-ngn: ${/^test-boot: memory: .*$/m.exec(out)?.[0] ?? "test-boot: memory: (no line)"}`);
    return code === 0 && registered ? 0 : 1;
  } finally {
    await ngn?.stop().catch(() => undefined);
    await lab.destroy();
    ngn?.removeFiles();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
