/**
 * Issue 16's "done when": 10,000 calls set up and torn down at a high rate leave the built
 * gateway's heap and handles back where they started once the linger window (64·T1 = 32 s,
 * RFC 3261 §17) has passed. The whole process, not a unit: SIPp places the calls with digest
 * through the B2BUA (relay ports allocated per call, the product's default `limits:`), and
 * `hikari-gw status --json --gc` (node --expose-gc) reads heap, handles, transactions,
 * dialogs and media sessions after a full GC.
 *
 * One namespace of its own, loopback only: the gateway on 127.0.0.1, the caller on
 * 127.0.0.2, the callee (registered as 802) on 127.0.0.3. A warm-up of 500 calls runs and
 * lingers out first, so the start figure already holds the code V8 compiles for a call.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab } from "./netns.js";
import { CLI, REPO, gatewayBuilt, gatewayConfigYaml } from "./sip/gateway-process.js";
import { SCENARIOS, credentials } from "./sip/sipp.js";
import type { GatewayStatus } from "./trunk/gateway-run.js";

const ready = labReady("call-churn", ["sipp"]) && gatewayBuilt();
const MB = 1024 * 1024;
const GW = "127.0.0.1";
const CALLER = "127.0.0.2";
const CALLEE = "127.0.0.3";
const RATE = 250;
const N = 10_000;
/** Talk time: short, so ~RATE × 0.3 calls are up at once (relay ports and all). */
const TALK_MS = 200;

interface Status extends GatewayStatus {
  limits: { server_transactions?: number; dialogs?: number };
}

describe.skipIf(!ready)("call churn: 10,000 calls through the built gateway", () => {
  const lab = new Lab("hgwchurn");
  const dir = mkdtempSync(join(tmpdir(), "hgw-churn-"));
  const cfg = join(dir, "gateway.yaml");
  let gateway: ChildProcess | undefined;
  let uas: ChildProcess | undefined;

  const status = (gc = false): Status => JSON.parse(lab.exec("h", process.execPath, [CLI, "status", "--json", "--config", cfg, ...(gc ? ["--gc"] : [])], { timeoutMs: 20_000 })) as Status;

  /** SIPp at RATE calls/s from the caller's address, to completion (bounded by -timeout). */
  async function calls(n: number, name: string): Promise<{ ok: number; failed: number; output: string }> {
    const inf = join(dir, "callers.csv");
    writeFileSync(inf, ["SEQUENTIAL", credentials("801", "secret801", "802"), ""].join("\n"));
    const timeoutS = Math.ceil(n / RATE) + 40;
    const r = await lab.run(
      "h",
      "sipp",
      [`${GW}:5060`, "-sf", join(SCENARIOS, "uac-call.xml"), "-i", CALLER, "-p", "5060", "-inf", inf, "-auth_uri", `802@${GW}`, "-d", String(TALK_MS), "-r", String(RATE), "-rp", "1000", "-l", String(RATE * 4), "-m", String(n), "-timeout", `${timeoutS}s`, "-timeout_error", "-nostdin", "-trace_stat", "-stf", join(dir, `${name}.csv`), "-trace_err", "-error_file", join(dir, `${name}.errors.log`), "-max_recv_loops", "10000", "-buff_size", "8388608"],
      { timeoutMs: (timeoutS + 15) * 1000 },
    );
    const stat = readFileSync(join(dir, `${name}.csv`), "utf8").trim().split("\n");
    const names = stat[0]!.split(";");
    const last = stat[stat.length - 1]!.split(";");
    const col = (k: string) => Number(last[names.indexOf(k)]);
    return { ok: col("SuccessfulCall(C)"), failed: col("FailedCall(C)"), output: `${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}` };
  }

  /** Polls status until every ended call's transactions and dialogs are gone (bounded). */
  async function lingerOut(maxMs: number): Promise<Status> {
    const deadline = Date.now() + maxMs;
    let s = status();
    while ((s.limits.server_transactions !== 0 || s.limits.dialogs !== 0 || s.calls.length !== 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      s = status();
    }
    return s;
  }

  beforeAll(async () => {
    lab.addHost("h");
    writeFileSync(
      cfg,
      gatewayConfigYaml({
        listen: GW,
        port: 5060,
        extensions: [
          { number: "801", password: "secret801", name: "Caller" },
          { number: "802", password: "secret802", name: "Callee" },
        ],
        ringTimeoutS: 30,
        stateDir: join(dir, "state"),
        rtpPorts: "40000-45999",
        logLevel: "warn",
        // One extension places every call: its per-extension cap lifted (a load test, not toll fraud).
        pbxLimits: { maxCalls: 10_000, maxCallsPerExtension: 10_000 },
      }),
    );
    gateway = lab.spawn("h", process.execPath, ["--expose-gc", CLI, "run", "--config", cfg, "--log-level", "warn"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    gateway.stderr?.on("data", () => undefined);
    // Ready = the control socket answers.
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        status();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // The callee registers from its own address (its binding is where the calls go), then answers.
    const reg = join(dir, "callee.csv");
    writeFileSync(reg, ["SEQUENTIAL", credentials("802", "secret802"), ""].join("\n"));
    const r = await lab.run("h", "sipp", [`${GW}:5060`, "-sf", join(SCENARIOS, "reg.xml"), "-i", CALLEE, "-p", "5060", "-inf", reg, "-auth_uri", GW, "-key", "expires", "3600", "-m", "1", "-timeout", "10s", "-timeout_error", "-nostdin"], { timeoutMs: 20_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    uas = lab.spawn("h", "sipp", ["-sf", join(SCENARIOS, "uas-answer.xml"), "-i", CALLEE, "-p", "5060", "-s", "802", "-nostdin", "-max_recv_loops", "10000", "-buff_size", "8388608", "-trace_err", "-error_file", join(dir, "uas.errors.log")], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    uas.stdout?.on("data", () => undefined);
    uas.stderr?.on("data", () => undefined);
    await new Promise((r) => setTimeout(r, 500));
  }, 60_000);

  afterAll(async () => {
    uas?.kill("SIGKILL");
    if (gateway && gateway.exitCode === null) {
      gateway.kill("SIGTERM");
      await Promise.race([new Promise((r) => gateway!.once("exit", r)), new Promise((r) => setTimeout(r, 5000))]);
    }
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${N} calls at ${RATE}/s: heap within 4 MB and handles as at the start once the linger passed`, async () => {
    const warm = await calls(500, "warm");
    expect(warm.failed, warm.output).toBe(0);
    expect(warm.ok).toBe(500);
    const idle = await lingerOut(60_000);
    expect(idle.limits, "the warm-up's transactions and dialogs lingered out").toMatchObject({ server_transactions: 0, dialogs: 0 });
    const start = status(true);
    expect(start.process?.gc, "the gateway runs with --expose-gc: status --gc collects").toBe(true);

    const t0 = Date.now();
    const run = await calls(N, "churn");
    const seconds = (Date.now() - t0) / 1000;
    expect(run.failed, run.output).toBe(0);
    expect(run.ok).toBe(N);
    const lingering = status(true);
    const ended = await lingerOut(60_000);
    expect(ended.limits).toMatchObject({ server_transactions: 0, dialogs: 0 });
    expect(ended.calls).toEqual([]);
    expect(ended.media?.sessions ?? 0).toBe(0);
    const end = status(true);

    const p0 = start.process!;
    const p1 = end.process!;
    const pl = lingering.process!;
    const figures = [
      `${N} calls in ${seconds.toFixed(0)} s`,
      `heap after GC: start ${(p0.heap_used_bytes / MB).toFixed(1)} MB, right after the calls (last ~32 s still lingering, ${lingering.limits.dialogs} dialogs) ${(pl.heap_used_bytes / MB).toFixed(1)} MB, end ${(p1.heap_used_bytes / MB).toFixed(1)} MB`,
      `RSS ${(p0.rss_bytes / MB).toFixed(0)} → ${(pl.rss_bytes / MB).toFixed(0)} → ${(p1.rss_bytes / MB).toFixed(0)} MB`,
      `handles ${JSON.stringify(p0.handles)} → ${JSON.stringify(p1.handles)}`,
    ].join("; ");
    console.log(`call-churn: ${figures}`);
    expect(p1.heap_used_bytes - p0.heap_used_bytes, figures).toBeLessThan(4 * MB);
    expect(p1.handles, figures).toEqual(p0.handles);
  }, 300_000);
});
