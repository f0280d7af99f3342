/**
 * Parser robustness against the running gateway: thousands of mutated and truncated real
 * messages (a phone's REGISTER with digest, an INVITE with SDP, the NGN's compact INVITE)
 * are thrown at its SIP port; afterwards it must still answer real requests, still be
 * running, and have logged the junk without flooding the log (rate-limited lines).
 * Loopback only (127.0.0.1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, REPO, gatewayBuilt } from "./sip/gateway-process.js";
import { labReady } from "./env.js";
import { prng } from "../support/prng.js";

const PORT = 25_000 + Math.floor(Math.random() * 5000);
const ready = labReady("sip robustness", []) && (gatewayBuilt() || (() => { throw new Error("dist/cli.js missing: run npm run build"); })());

const SEEDS = [
  `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;rport;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nFrom: "Alice" <sip:801@127.0.0.1>;tag=1928301774\r\nTo: <sip:801@127.0.0.1>\r\nCall-ID: a84b4c76e66710@pc33\r\nCSeq: 314159 REGISTER\r\nContact: <sip:801@127.0.0.1:5099;transport=udp>;expires=600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"\r\nAuthorization: Digest username="801", realm="hikari-gw", nonce="abc,def", uri="sip:127.0.0.1", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"\r\nUser-Agent: Linphone/5.2\r\nContent-Length: 0\r\n\r\n`,
  `INVITE sip:802@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKnashds8\r\nVia: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKx\r\nMax-Forwards: 70\r\nTo: <sip:802@127.0.0.1>\r\nFrom: "Bob \\"the\\" Builder" <sip:801@127.0.0.1>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 1 INVITE\r\nContact: <sip:801@127.0.0.1:5099>\r\nRoute: <sip:p1.example.com;lr>\r\nSubject: hello\r\n  folded\r\nContent-Type: application/sdp\r\nContent-Length: 129\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n`,
  `INVITE sip:0312345678@127.0.0.1:5060 SIP/2.0\r\nv: SIP/2.0/UDP 198.18.5.1:5060;branch=z9hG4bK-ngn-1\r\nf: <sip:0398765432@ntt-east.ne.jp>;tag=ngn1\r\nt: <sip:0312345678@ntt-east.ne.jp>\r\ni: ngn-call-1@198.18.5.1\r\nCSeq: 1 INVITE\r\nm: <sip:198.18.5.1:5060>\r\nk: timer,100rel\r\nx: 300;refresher=uac\r\nP-Asserted-Identity: <sip:0398765432@ntt-east.ne.jp>,\r\n <tel:0398765432>\r\nRecord-Route: <sip:198.18.5.1;lr>\r\nMax-Forwards: 69\r\nc: application/sdp\r\nl: 0\r\n\r\n`,
];

function mutate(seed: Buffer, r: () => number): Buffer {
  const b = Buffer.from(seed);
  const kind = Math.floor(r() * 6);
  const pos = Math.floor(r() * b.length);
  switch (kind) {
    case 0: // byte flips
      for (let i = 0; i < 1 + r() * 8; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b;
    case 1: // truncation
      return b.subarray(0, pos);
    case 2: // insertion of structural characters
      return Buffer.concat([b.subarray(0, pos), Buffer.from([";", "<", ">", '"', "\r\n", ":", ",", "\0", " \t", "%"][Math.floor(r() * 10)]), b.subarray(pos)]);
    case 3: // deletion of a range
      return Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + Math.floor(r() * 40)))]);
    case 4: // lying Content-Length
      return Buffer.from(b.toString("latin1").replace(/(Content-Length|l): \d+/i, `$1: ${Math.floor(r() * 100000) - 10}`), "latin1");
    default: // a header line repeated many times
      return Buffer.from(b.toString("latin1").replace("\r\n", "\r\n" + "Via: SIP/2.0/UDP x;branch=z9hG4bK\r\n".repeat(1 + Math.floor(r() * 50))), "latin1");
  }
}

describe.skipIf(!ready)("SIP robustness: mutated datagrams at the running gateway", () => {
  let dir: string;
  let gw: ChildProcess;
  const lines: string[] = [];
  let sock: Socket;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hgw-robust-"));
    const cfg = join(dir, "gw.yaml");
    // offload: none: this gateway runs in the host's own namespace, whose nftables it must not touch.
    writeFileSync(
      cfg,
      `wan: { interface: none }\ntrunk: { enabled: false }\nlan: { listen: 127.0.0.1, port: ${PORT} }\nextensions:\n  - { number: "801", password: "secret801" }\n  - { number: "802", password: "secret802" }\nmedia: { rtp_ports: "${PORT + 100}-${PORT + 199}", offload: none }\nstate_dir: ${dir}\n`,
    );
    gw = spawn(process.execPath, [CLI, "run", "--config", cfg], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    const onData = (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts.filter(Boolean));
    };
    gw.stdout!.on("data", onData);
    gw.stderr!.on("data", onData);
    const deadline = Date.now() + 15_000;
    while (!lines.some((l) => l.includes("hikari-gw ready"))) {
      if (gw.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start:\n${lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  });

  afterAll(async () => {
    sock?.close();
    if (gw && gw.exitCode === null) {
      gw.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 500));
      if (gw.exitCode === null) gw.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Send `text` and resolve with the answer carrying its Call-ID (late answers to the junk are skipped). */
  function ask(text: string, timeoutMs = 3000): Promise<string> {
    const callId = /\r\nCall-ID: ([^\r]+)/.exec(text)![1];
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        sock.off("message", on);
        reject(new Error("no answer from the gateway"));
      }, timeoutMs);
      const on = (m: Buffer) => {
        const answer = m.toString();
        if (!answer.includes(`Call-ID: ${callId}\r\n`)) return;
        clearTimeout(t);
        sock.off("message", on);
        resolve(answer);
      };
      sock.on("message", on);
      sock.send(text, PORT, "127.0.0.1");
    });
  }

  it("survives 6000 mutated and truncated messages and keeps serving", async () => {
    const r = prng(4475);
    const seeds = SEEDS.map((s) => Buffer.from(s, "latin1"));
    let sent = 0;
    // Bounded: 6000 datagrams in batches, paced so the kernel does not just drop them.
    for (let batch = 0; batch < 60; batch++) {
      for (let i = 0; i < 100; i++) {
        const d = mutate(seeds[Math.floor(r() * seeds.length)], r);
        if (d.length > 0) sock.send(d, PORT, "127.0.0.1");
        sent++;
      }
      await new Promise((res) => setTimeout(res, 5));
    }
    expect(sent).toBe(6000);
    await new Promise((res) => setTimeout(res, 500));
    sock.removeAllListeners("message"); // drop any answers to the junk
    expect(gw.exitCode).toBeNull();

    const options = `OPTIONS sip:127.0.0.1:${PORT} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bKafter1\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: after-flood-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    const answer = await ask(options);
    expect(answer).toMatch(/^SIP\/2\.0 200 /);
    expect(answer).toContain("Call-ID: after-flood-1");
    const register = SEEDS[0].replace("z9hG4bK776asdhds", "z9hG4bKafter2").replace(/Authorization:[^\r]*\r\n/, "").replace("a84b4c76e66710@pc33", "after-flood-2");
    expect(await ask(register)).toMatch(/^SIP\/2\.0 401 /);

    // The junk was logged, but rate-limited: far fewer lines than datagrams, and nothing fatal.
    const dropped = lines.filter((l) => /malformed|dropped|invalid|unparsable/i.test(l));
    expect(dropped.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(2000);
    expect(lines.some((l) => /"level":"(fatal)"|uncaught|TypeError|RangeError/.test(l))).toBe(false);
  });
});
