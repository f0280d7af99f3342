/**
 * `GET /voicemail/<id>.wav?token=<token>`: a message's audio for Home Assistant (a notification
 * links it, a media player plays it), on the gateway's LAN-side HTTP listener. The token is the
 * credential: 128 random bits per message, compared in constant time (both sides hashed first,
 * so not even the length leaks). An unknown id and a wrong token get the same 404, so a scanner
 * learns nothing; misses are logged rate-limited and never with the token. A fetch marks the
 * message heard (a HEAD does not). Single byte ranges are served (206), as media players ask.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { RateLimitedLog } from "../rate-limited-log.js";
import { isMessageId } from "./store.js";
import type { HttpRoute, VoicemailMessage, VoicemailStoreApi } from "./types.js";

export const VOICEMAIL_PATH = "/voicemail/";

/** The path and query a message is fetched at (prefix it with the listener's http://host:port). */
export function messageUrlPath(msg: Pick<VoicemailMessage, "id" | "token">): string {
  return `${VOICEMAIL_PATH}${msg.id}.wav?token=${encodeURIComponent(msg.token)}`;
}

/** Equal in constant time whatever the lengths: SHA-256 of both, then timingSafeEqual. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

/** Never matches a real token (base64url has no '*'): the compare an unknown id still pays for. */
const NO_TOKEN = "*".repeat(22);

export function voicemailRoute(opts: { store: VoicemailStoreApi; log: Logger; clock: Clock }): HttpRoute {
  const log = opts.log.child({ module: "voicemail.http" });
  const missLog = new RateLimitedLog(log, 1, () => opts.clock.now());
  return (req, res) => {
    const url = req.url ?? "";
    if (!url.startsWith(VOICEMAIL_PATH)) return false;
    void serve(req, res, url).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err) }, "voicemail fetch failed");
      if (!res.headersSent) notFound(res);
      else res.destroy();
    });
    return true;
  };

  async function serve(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const token = new URLSearchParams(q < 0 ? "" : url.slice(q + 1)).get("token") ?? "";
    const id = path.slice(VOICEMAIL_PATH.length).replace(/\.wav$/, "");
    const method = req.method ?? "";
    const msg = (method === "GET" || method === "HEAD") && path.endsWith(".wav") && isMessageId(id) ? await opts.store.get(id) : undefined;
    const ok = tokenMatches(token, msg?.token ?? NO_TOKEN) && msg !== undefined;
    const body = ok ? await opts.store.read(id) : undefined;
    if (body === undefined) {
      missLog.warn({ source: req.socket.remoteAddress, method: method.slice(0, 10) }, "voicemail fetch refused");
      return notFound(res);
    }
    const headers: Record<string, string | number> = {
      "content-type": "audio/wav",
      "accept-ranges": "bytes",
      "content-disposition": `inline; filename="${id}.wav"`,
      "cache-control": "private, no-store",
      connection: "close",
    };
    // Safari's media player asks for byte ranges and plays nothing without them (RFC 9110 §14).
    const range = byteRange(req.headers.range, body.length);
    if (range === "unsatisfiable") {
      res.writeHead(416, { ...headers, "content-range": `bytes */${body.length}` }).end();
      return;
    }
    const part = range === undefined ? body : body.subarray(range.start, range.end + 1);
    if (range !== undefined) headers["content-range"] = `bytes ${range.start}-${range.end}/${body.length}`;
    headers["content-length"] = part.length;
    res.writeHead(range === undefined ? 200 : 206, headers);
    if (method === "HEAD") return void res.end();
    res.end(part);
    await opts.store.markHeard(id);
    log.info({ id, source: req.socket.remoteAddress }, "voicemail message fetched");
  }
}

/**
 * One `bytes=` range of RFC 9110 §14.1.2 (`first-last`, `first-`, `-suffix`), or undefined to
 * send the whole body (no header, several ranges, or a unit other than bytes: §14.2 lets a
 * server ignore those), or "unsatisfiable" (§15.5.17: 416).
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return undefined; // invalid: ignored (§14.1.1)
  }
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { "content-type": "text/plain", connection: "close" }).end("not found\n");
}
