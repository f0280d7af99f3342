/**
 * A phone over the built-in WireGuard: the gateway (vpn.wireguard on, wireguard-go since this
 * kernel has no WireGuard) and `hikari-gw phone add` print a wg-quick config; a phone namespace
 * brings the tunnel up from exactly that text (userspace wireguard-go), can reach the gateway
 * only through it (nft drops everything else toward the gateway's outside address), registers
 * with the printed credentials and calls 801 on the LAN with RTP both ways. The provisioning
 * URL works once. Removing the phone mid-call takes its tunnel away; the call ends cleanly
 * (media timeout, BYE to the LAN side, nothing left on the gateway).
 *
 *  hgwvpn-gw  eth0 198.18.60.1 ── hgwvpn-ph  eth0 198.18.60.11, wg0 198.19.60.x (the phone)
 *             eth1 198.18.61.1 ── hgwvpn-lan eth0 198.18.61.11 (801, SIPp)
 *             hgw0 198.19.60.1/24 (the tunnel)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryStatus } from "../../src/control.js";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import { CLI, gatewayBuilt, startGateway, type GatewayProcess } from "./sip/gateway-process.js";
import { credentials, runSipp, startSipp, type SippRun } from "./sip/sipp.js";
import { startCapture } from "./sip/capture.js";
import { summarize } from "./sip/trace.js";

/** Pids of `wireguard-go -f hgw0` processes (the gateway's userspace interface). */
function leftoverWireguardGo(): number[] {
  try {
    return execFileSync("pgrep", ["-f", "^wireguard-go -f hgw0$"], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const ready = labReady("vpn lab", ["wg", "wireguard-go", "sipp", "curl", "nft", "ss", "ping", "tshark"]);
const GW_OUT = "198.18.60.1";
const TUN_GW = "198.19.60.1";
const LAN_801 = "198.18.61.11";
const MEDIA_TIMEOUT_S = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Printed {
  wgConfig: string;
  url: string;
  user: string;
  password: string;
  address: string;
}

/** Reads what `phone add` printed: the [Interface]/[Peer] text, the URL line, the settings. */
function parsePrinted(out: string): Printed {
  const wg = /(\[Interface\][\s\S]*?PersistentKeepalive = \d+\n)/.exec(out);
  const url = /^(http:\/\/\S+\/provision\/\S+)$/m.exec(out);
  const user = /^User:\s+(\S+)$/m.exec(out);
  const password = /^Password:\s+(\S+)$/m.exec(out);
  const address = /^Address = ([0-9.]+)\/32$/m.exec(out);
  if (!wg || !url || !user || !password || !address) throw new Error(`phone add printed something unexpected:\n${out}`);
  return { wgConfig: wg[1]!, url: url[1]!, user: user[1]!, password: password[1]!, address: address[1]! };
}

describe.skipIf(!ready)("a phone over the built-in WireGuard (wireguard-go), set up from what `phone add` prints", () => {
  let lab: Lab;
  let dir: string;
  let gw: GatewayProcess;
  let phone: Printed;
  let seq = 0;
  const stateDir = () => join(dir, "state");
  const cli = (...args: string[]) => lab.exec("gw", process.execPath, [CLI, ...args, "--config", join(dir, "gateway.yaml")], { timeoutMs: 20_000 });
  const gwLog = () => gw.lines.slice(-30).join("\n");
  const sipp = (host: string, addr: string, scenario: string, more: Partial<SippRun> = {}): SippRun => ({ scenario, host, localAddr: addr, remote: `${host === "ph" ? TUN_GW : "198.18.61.1"}:5060`, dir, name: `${++seq}-${host}-${scenario.replace(".xml", "")}`, ...more });

  beforeAll(async () => {
    if (!gatewayBuilt()) throw new Error("dist/cli.js missing: run `npm run build` first");
    lab = new Lab("hgwvpn");
    for (const h of ["gw", "ph", "lan"]) lab.addHost(h);
    lab.link({ host: "gw", ifname: "eth0", addr: `${GW_OUT}/24` }, { host: "ph", ifname: "eth0", addr: "198.18.60.11/24" });
    lab.link({ host: "gw", ifname: "eth1", addr: "198.18.61.1/24" }, { host: "lan", ifname: "eth0", addr: `${LAN_801}/24` });
    // 801 reaches the relay at the advertised (tunnel) address through the gateway.
    lab.exec("lan", "ip", ["route", "add", "198.19.60.0/24", "via", "198.18.61.1"]);
    dir = mkdtempSync(join(tmpdir(), "hgw-vpn-"));
    writeFileSync(join(dir, "tone.ulaw"), Buffer.alloc(8000 * 4, 0xff));
    gw = await startGateway(lab, "gw", dir, {
      listen: "0.0.0.0",
      advertise: TUN_GW,
      port: 5060,
      extensions: [{ number: "801", password: "lan-801-secret", name: "Desk" }],
      ringTimeoutS: 10,
      stateDir: stateDir(),
      rtpPorts: "53000-53099",
      mediaTimeoutS: MEDIA_TIMEOUT_S,
      extraYaml: `vpn:\n  wireguard: { enabled: true, port: 51820, subnet: "198.19.60.0/24", endpoint: "${GW_OUT}:51820", interface: hgw0 }\n  provision_port: 8580\n`,
    });
    for (let i = 0; i < 50 && !lab.exec("gw", "ss", ["-Hltn"]).includes(`${TUN_GW}:8580`); i++) await sleep(100);
  }, 60_000);

  afterAll(async () => {
    // The gateway first, with the time systemd gives it (lab.destroy SIGKILLs after 2 s): its
    // wireguard-go child must go with it. Killed, it left one behind holding
    // /var/run/wireguard/hgw0.sock, which is not per namespace, and the next run's failed.
    if (gw?.child && gw.child.exitCode === null && gw.child.signalCode === null) {
      const exited = new Promise((r) => gw.child.once("exit", r));
      gw.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    const left = leftoverWireguardGo();
    for (const pid of left) process.kill(pid, "SIGKILL");
    await lab?.destroy();
    if (dir && process.env.HGW_LAB_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
    expect(left, "wireguard-go of hgw0 still running after the gateway stopped").toEqual([]);
  });

  it("phone add prints a WireGuard config and a provisioning URL; the gateway's key file is 0600", () => {
    const out = cli("phone", "add", "Pixel");
    phone = parsePrinted(out);
    expect(phone.user).toBe("802");
    expect(phone.password.length).toBeGreaterThanOrEqual(32);
    expect(phone.url.startsWith(`http://${TUN_GW}:8580/provision/`)).toBe(true);
    expect(execFileSync("stat", ["-c", "%a", join(stateDir(), "wireguard.key")], { encoding: "utf8" }).trim()).toBe("600");
    // Secrets never reach the gateway's log.
    const log = gw.lines.join("\n");
    for (const s of [phone.password, /PrivateKey = (\S+)/.exec(phone.wgConfig)![1]!, phone.url.split("/").at(-1)!]) expect(log.includes(s), "a secret in the log").toBe(false);
    expect(cli("phone", "list")).toMatch(/^Pixel\t802\t198\.19\.60\.2$/m);
  });

  it("the phone brings the tunnel up from the printed text and reaches the gateway only through it", async () => {
    // Only the WireGuard port may go to the gateway's outside address.
    lab.exec("ph", "nft", ["-f", "-"], { input: `table inet only_wg {\n chain out { type filter hook output priority 0; policy accept; ip daddr ${GW_OUT} udp dport != 51820 drop; ip daddr ${GW_OUT} ip protocol != udp drop; }\n}\n` });
    const conf = join(dir, "phone-wg.conf");
    // `wg setconf` reads everything but wg-quick's Address line, which `ip` applies.
    writeFileSync(conf, phone.wgConfig.split("\n").filter((l) => !l.startsWith("Address")).join("\n"), { mode: 0o600 });
    lab.spawn("ph", "wireguard-go", ["-f", "wg0"], { stdio: "ignore" });
    for (let i = 0; i < 50 && !lab.exec("ph", "ip", ["-br", "link"]).includes("wg0"); i++) await sleep(100);
    lab.exec("ph", "wg", ["setconf", "wg0", conf]);
    lab.exec("ph", "ip", ["addr", "add", `${phone.address}/32`, "dev", "wg0"]);
    lab.exec("ph", "ip", ["link", "set", "wg0", "up"]);
    lab.exec("ph", "ip", ["route", "add", "198.19.60.0/24", "dev", "wg0"]);
    expect(lab.exec("ph", "ping", ["-c", "2", "-W", "2", TUN_GW])).toMatch(/2 received/);
    // Not around it: the outside address answers nothing but WireGuard.
    expect(() => lab.exec("ph", "ping", ["-c", "1", "-W", "1", GW_OUT])).toThrow();
    const st = (await queryStatus(stateDir())) as { vpn?: { peers?: { name: string; last_handshake: string | null }[] } };
    expect(st.vpn?.peers?.[0]?.name, JSON.stringify(st)).toBe("Pixel");
    expect(st.vpn?.peers?.[0]?.last_handshake, JSON.stringify(st)).not.toBeNull();
  }, 30_000);

  it("the provisioning URL serves Linphone's XML once, through the tunnel; then the listener is closed", async () => {
    const first = lab.exec("ph", "curl", ["-sS", "-w", "\n%{http_code}", phone.url]);
    expect(first).toMatch(/<entry name="username" overwrite="true">802<\/entry>/);
    expect(first).toMatch(/<entry name="mime" overwrite="true">PCMU<\/entry>/);
    expect(first.trim().endsWith("200")).toBe(true);
    // Spent, and no other URL outstanding: the port is closed (curl: connection refused).
    const again = await lab.run("ph", "curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", phone.url]);
    expect([again.stdout.trim(), again.code], again.stderr).toEqual(["000", 7]);
  });

  it("registers through the tunnel with the printed credentials and calls 801: RTP both ways", async () => {
    const reg801 = await runSipp(lab, sipp("lan", LAN_801, "reg.xml", { inf: [credentials("801", "lan-801-secret")], keys: { expires: "300" }, authUri: "198.18.61.1", timeoutS: 10 }));
    expect(reg801.code, summarize(reg801.messages) + gwLog()).toBe(0);
    const reg = await runSipp(lab, sipp("ph", phone.address, "reg.xml", { inf: [credentials(phone.user, phone.password)], keys: { expires: "300" }, authUri: TUN_GW, timeoutS: 10 }));
    expect(reg.code, summarize(reg.messages) + reg.output + gwLog()).toBe(0);
    const cap = await startCapture(lab, "ph", "wg0", dir, 20);
    const callee = startSipp(lab, sipp("lan", LAN_801, "uas-answer.xml", { service: "801", timeoutS: 20, extra: ["-mi", LAN_801, "-mp", "6000", "-rtp_echo"] }));
    await sleep(500);
    const caller = await runSipp(lab, sipp("ph", phone.address, "uac-call-rtp.xml", { inf: [credentials(phone.user, phone.password, "801")], authUri: `801@${TUN_GW}`, pauseMs: 2000, timeoutS: 20, extra: ["-mi", phone.address, "-mp", "6000"] }));
    const calleeResult = await callee.done;
    const flows = await cap.stop();
    const why = `${summarize(caller.messages)}\n${caller.output}\n${summarize(calleeResult.messages)}\n${JSON.stringify(flows)}\n${gwLog()}`;
    expect(caller.code, why).toBe(0);
    expect(calleeResult.code, why).toBe(0);
    const sent = flows.filter((f) => f.src.startsWith(`${phone.address}:`) && f.dst.startsWith(`${TUN_GW}:`) && !f.dst.endsWith(":5060")).reduce((n, f) => n + f.packets, 0);
    const back = flows.filter((f) => f.src.startsWith(`${TUN_GW}:`) && f.dst.startsWith(`${phone.address}:`) && !f.src.endsWith(":5060")).reduce((n, f) => n + f.packets, 0);
    expect(sent, why).toBeGreaterThanOrEqual(20);
    expect(back, why).toBeGreaterThanOrEqual(20);
  }, 60_000);

  it("phone remove mid-call: the tunnel goes, the call ends cleanly (BYE to 801), nothing left", async () => {
    const callee = startSipp(lab, sipp("lan", LAN_801, "uas-answer.xml", { service: "801", timeoutS: 40, extra: ["-mi", LAN_801, "-mp", "6000", "-rtp_echo"] }));
    await sleep(500);
    const caller = startSipp(lab, sipp("ph", phone.address, "uac-call-rtp.xml", { inf: [credentials(phone.user, phone.password, "801")], authUri: `801@${TUN_GW}`, pauseMs: 30_000, timeoutS: 40, extra: ["-mi", phone.address, "-mp", "6000"] }));
    let st = {} as { calls?: { state?: string }[]; media?: { sessions?: number }; vpn?: { peers?: unknown[] } };
    for (let i = 0; i < 50; i++) {
      st = (await queryStatus(stateDir())) as typeof st;
      if ((st.calls ?? []).some((c) => c.state === "answered" || c.state === "connected")) break;
      await sleep(200);
    }
    expect(cli("phone", "remove", "Pixel")).toMatch(/removed: Pixel \(extension 802\)/);
    expect(() => lab.exec("ph", "ping", ["-c", "1", "-W", "1", TUN_GW])).toThrow();
    // The relay hears nothing from the phone: media timeout, BYE to 801, which SIPp answers.
    const calleeResult = await callee.done;
    caller.child.kill("SIGKILL");
    expect(calleeResult.code, `${summarize(calleeResult.messages)}\n${gwLog()}`).toBe(0);
    for (let i = 0; i < 30; i++) {
      st = (await queryStatus(stateDir())) as typeof st;
      if ((st.calls ?? []).every((c) => c.state === "ended") && st.media?.sessions === 0) break;
      await sleep(200);
    }
    expect((st.calls ?? []).filter((c) => c.state !== "ended"), JSON.stringify(st)).toEqual([]);
    expect(st.media?.sessions).toBe(0);
    expect(st.vpn?.peers).toEqual([]);
  }, 60_000);
});
