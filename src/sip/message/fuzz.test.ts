/**
 * Fuzzing the message layer with fast-check, time-bounded (about 5 s locally, 12 s with
 * CI=true): mutated, truncated, split and shuffled real messages. parseMessage must return
 * a message or throw SipParseError, never anything else, and never take long; whatever
 * parses must survive the accessors, validation and a serialise/parse round trip.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SipMessage } from "./types.js";
import { SipParseError } from "./types.js";
import { parseMessage } from "./parse.js";
import { serializeMessage } from "./serialize.js";
import { validateRequest, validateResponse } from "./validate.js";
import { allVias, callId, contacts, cseq, expiresHeader, fromAddr, getHeaders, maxForwards, parseAuthParams, toAddr, topVia } from "./headers.js";
import { formatUri, parseUri } from "./uri.js";
import { REAL_MESSAGES } from "../../../test/support/sip/messages.js";

const BUDGET_MS = process.env.CI === "true" ? 12_000 : 5_000;
const PROPERTIES = 4;
const PER_PROPERTY = Math.floor(BUDGET_MS / PROPERTIES);
const SLOW_MS = 50;

const ROOT = fileURLToPath(new URL("../../../test/fixtures/rfc4475/", import.meta.url));
const SEEDS: Buffer[] = [...Object.values(REAL_MESSAGES)];
for (const d of ["valid", "invalid"]) for (const f of readdirSync(ROOT + d)) if (f.endsWith(".dat")) SEEDS.push(readFileSync(ROOT + d + "/" + f));

let slowest = 0;

/** The contract: a message or a SipParseError; any other exception fails the property. */
function tryParse(buf: Buffer): SipMessage | undefined {
  const t0 = performance.now();
  try {
    return parseMessage(buf);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
    return undefined;
  } finally {
    let took = performance.now() - t0;
    // A GC pause or a busy neighbour can stall one call: re-time before blaming the parser.
    for (let i = 0; i < 3 && took > SLOW_MS; i++) {
      const t1 = performance.now();
      try {
        parseMessage(buf);
      } catch {
        // already classified above
      }
      took = Math.min(took, performance.now() - t1);
    }
    slowest = Math.max(slowest, took);
  }
}

/** Accessors may refuse (SipParseError) but never crash; validation never throws. */
function exercise(m: SipMessage): void {
  const calls: (() => unknown)[] = [
    () => topVia(m),
    () => allVias(m),
    () => callId(m),
    () => cseq(m),
    () => fromAddr(m),
    () => toAddr(m),
    () => contacts(m),
    () => maxForwards(m),
    () => expiresHeader(m),
    () => getHeaders(m, "authorization").map(parseAuthParams),
  ];
  for (const call of calls) {
    try {
      call();
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
    }
  }
  if (m.kind === "request") {
    validateRequest(m);
    validateRequest(m, { supported: ["timer"], accept: ["application/sdp"] });
    // A parsed Request-URI formats to text that parses back to the same URI.
    same(parseUri(formatUri(m.uri)), m.uri);
  } else validateResponse(m);
  // What parsed serialises and parses back to the same model (the serialiser always
  // writes a Content-Length, so that header is left out of the comparison).
  const again = parseMessage(serializeMessage(m));
  same(withoutLength(again), withoutLength(m));
  same(parseMessage(serializeMessage(again)), again);
}

/** isDeepStrictEqual is ~10x cheaper than expect().toEqual; the latter only explains a failure. */
function same<T>(actual: T, expected: T): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

function withoutLength(m: SipMessage): SipMessage {
  return { ...m, headers: m.headers.filter((h) => h.name !== "content-length") };
}

type Mutation =
  | { op: "flip"; at: number; byte: number }
  | { op: "insert"; at: number; bytes: number[] }
  | { op: "delete"; at: number; len: number }
  | { op: "dup"; at: number; len: number };

const INTERESTING = [0, 9, 10, 13, 32, 34, 37, 44, 58, 59, 60, 62, 64, 91, 92, 93, 0x7f, 0xc3, 0xff].map((b) => fc.constant(b));
const byteArb = fc.oneof(fc.integer({ min: 0, max: 255 }), ...INTERESTING);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), byte: byteArb }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.array(byteArb, { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant("dup" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 60 }) }),
);

function mutate(seed: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.op) {
      case "flip":
        if (b.length > 0) b[at] = m.byte;
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case "delete":
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case "dup":
        b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at, at + m.len), b.subarray(at + m.len)]);
        break;
    }
  }
  return b;
}

const seedArb = fc.integer({ min: 0, max: SEEDS.length - 1 }).map((i) => SEEDS[i]!);
const params = { numRuns: 1_000_000, interruptAfterTimeLimit: PER_PROPERTY, markInterruptAsFailure: false } as const;

describe("parser fuzzing (time-bounded)", () => {
  it("mutated real messages: a message or SipParseError, and what parses round-trips", () => {
    let runs = 0;
    fc.assert(
      fc.property(seedArb, fc.array(mutationArb, { minLength: 1, maxLength: 6 }), (seed, ms) => {
        runs++;
        const m = tryParse(mutate(seed, ms));
        if (m) exercise(m);
      }),
      params,
    );
    expect(runs).toBeGreaterThan(500);
  });

  it("truncated messages", () => {
    let runs = 0;
    fc.assert(
      fc.property(seedArb, fc.nat(), (seed, cut) => {
        runs++;
        const m = tryParse(seed.subarray(0, cut % (seed.length + 1)));
        if (m) exercise(m);
      }),
      params,
    );
    expect(runs).toBeGreaterThan(500);
  });

  it("messages split at arbitrary points: every piece and the shuffled reassembly", () => {
    let runs = 0;
    fc.assert(
      fc.property(seedArb, fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), fc.boolean(), (seed, cuts, reverse) => {
        runs++;
        const points = [...new Set(cuts.map((c) => c % (seed.length + 1)))].sort((a, b) => a - b);
        const pieces: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, seed.length]) {
          pieces.push(seed.subarray(prev, p));
          prev = p;
        }
        for (const piece of pieces) {
          const m = tryParse(piece);
          if (m) exercise(m);
        }
        const m = tryParse(Buffer.concat(reverse ? pieces.reverse() : [...pieces.slice(1), pieces[0]!]));
        if (m) exercise(m);
      }),
      params,
    );
    expect(runs).toBeGreaterThan(500);
  });

  it("random bytes and random header-ish text", () => {
    let runs = 0;
    const texty = fc
      .array(fc.oneof(fc.constantFrom("INVITE ", "SIP/2.0", " ", "\r\n", ":", ";", ",", "<", ">", '"', "\\", "sip:", "%", "@", "[", "]", "Via", "l: ", "Content-Length: 9", "\r\n\r\n"), fc.string({ maxLength: 6 })), { maxLength: 60 })
      .map((parts) => Buffer.from(parts.join("")));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)), texty), (buf) => {
        runs++;
        const m = tryParse(buf);
        if (m) exercise(m);
      }),
      params,
    );
    expect(runs).toBeGreaterThan(500);
    // Never hangs: no single parse came near a budget that would matter on a UDP socket.
    expect(slowest).toBeLessThan(SLOW_MS);
  });
});
