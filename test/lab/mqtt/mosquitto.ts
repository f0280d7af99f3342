/**
 * Mosquitto (Debian) in a lab namespace, and mosquitto_sub / mosquitto_pub as the real MQTT
 * clients: a subscriber keeps every message it saw with its retain flag, so a test can wait
 * for a message and assert on the order of what came.
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../netns.js";

export interface Message {
  retained: boolean;
  topic: string;
  payload: string;
  /** Parsed payload when it is JSON. */
  json?: unknown;
}

export interface Broker {
  child: ChildProcess;
  stop(): Promise<void>;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * mosquitto on host's loopback, no persistence (a restart loses every retained message: the
 * gateway must republish). With `persistDir`: sessions (and what is queued for an offline
 * persistent subscriber, QoS 0 included) survive a restart, as the Mosquitto add-on keeps them.
 */
export async function startMosquitto(lab: Lab, host: string, dir: string, port = 1883, opts: { persistDir?: string } = {}): Promise<Broker> {
  const conf = join(dir, "mosquitto.conf");
  const persistence = opts.persistDir ? `persistence true\npersistence_location ${opts.persistDir}/\nqueue_qos0_messages true\n` : "persistence false\n";
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${persistence}log_dest stdout\nuser root\n`);
  const child = lab.spawn(host, "mosquitto", ["-c", conf]);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-2000)));
  child.stderr?.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-2000)));
  await until(() => child.exitCode !== null || lab.exec(host, "ss", ["-Hltn"]).includes(`127.0.0.1:${port}`), 5000, `mosquitto on ${port}`).catch((e: Error) => {
    throw new Error(`${e.message}\n${out}`);
  });
  if (child.exitCode !== null) throw new Error(`mosquitto exited ${child.exitCode}: ${out}`);
  return {
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        child.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

export class Subscriber {
  readonly messages: Message[] = [];
  private partial = "";

  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (d: Buffer) => {
      const lines = (this.partial + d.toString()).split("\n");
      this.partial = lines.pop() ?? "";
      for (const l of lines) {
        const [r, topic, ...rest] = l.split("\t");
        const payload = rest.join("\t");
        let json: unknown;
        try {
          json = JSON.parse(payload);
        } catch {
          json = undefined;
        }
        this.messages.push({ retained: r === "1", topic: topic ?? "", payload, json });
      }
    });
  }

  /** Waits until a message after index `from` matches; returns it. */
  async waitFor(pred: (m: Message) => boolean, timeoutMs = 10_000, from = 0, what = "a message"): Promise<Message> {
    let found: Message | undefined;
    await until(() => (found = this.messages.slice(from).find(pred)) !== undefined, timeoutMs, `${what}; saw:\n${this.tail()}`);
    return found!;
  }

  on(topic: string, from = 0): Message[] {
    return this.messages.slice(from).filter((m) => m.topic === topic);
  }

  tail(n = 30): string {
    return this.messages
      .slice(-n)
      .map((m) => `${m.retained ? "R" : "-"} ${m.topic} ${m.payload.slice(0, 200)}`)
      .join("\n");
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
  }

  /** stop(), and wait (bounded) until the process is gone, so the broker has seen it leave. */
  async stopped(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.stop();
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
  }
}

export interface ClientAuth {
  port?: number;
  username?: string;
  password?: string;
}

const authArgs = (a: ClientAuth) => ["-h", "127.0.0.1", "-p", String(a.port ?? 1883), ...(a.username ? ["-u", a.username, "-P", a.password ?? ""] : [])];

/**
 * mosquitto_sub on `topics`, printing retain flag, topic and payload per line. `session`: a
 * persistent session under that client id (clean session off, QoS 1), so the broker queues
 * what is published while this subscriber is away and hands it over when one comes back.
 */
export async function subscribe(lab: Lab, host: string, topics: string[], auth: ClientAuth = {}, session?: string): Promise<Subscriber> {
  const persistent = session ? ["-c", "-i", session, "-q", "1"] : [];
  const args = [...authArgs(auth), ...persistent, "-F", "%r\t%t\t%p", "-V", "mqttv311", ...topics.flatMap((t) => ["-t", t])];
  const child = lab.spawn(host, "mosquitto_sub", args);
  const sub = new Subscriber(child);
  // Subscribed once the broker lists it; simplest observable: a short settle, then check it is alive.
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`mosquitto_sub exited ${child.exitCode}`);
  return sub;
}

export function publish(lab: Lab, host: string, topic: string, payload: string, auth: ClientAuth = {}): void {
  lab.exec(host, "mosquitto_pub", [...authArgs(auth), "-V", "mqttv311", "-t", topic, "-m", payload], { timeoutMs: 5000 });
}
