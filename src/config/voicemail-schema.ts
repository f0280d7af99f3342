/**
 * The `voicemail:` block: the answering machine. Off by default; with `enabled: true` the
 * gateway answers inbound line calls itself after `answer_after_s` of ringing, at once when
 * do-not-disturb is on or no phone that would ring is registered, plays the greeting and a
 * beep, and records the caller's message into `state_dir/voicemail/`.
 */
import { z } from "zod/mini";
import { block, digits, int, str } from "./schema-parts.js";

/** A new schema for the block, built with the whole file's (schema.ts says why). */
export const voicemailSchema = () =>
  block({
    enabled: z._default(z.boolean(), false),
    /** Seconds of ringing before the machine answers (the phones stop ringing then). */
    answer_after_s: z._default(int(z.minimum(0), z.maximum(300)), 20),
    /** A WAV file (8 kHz mono, PCM16 or µ-law); the built-in greeting when absent. */
    greeting: z.optional(str(z.minLength(1))),
    /** The longest message, seconds. */
    max_message_s: z._default(int(z.minimum(5), z.maximum(3600)), 120),
    /** Continuous silence that ends a message, seconds (0: never). */
    silence_s: z._default(int(z.minimum(0), z.maximum(600)), 10),
    /** A beep between the greeting and the recording. */
    beep: z._default(z.boolean(), true),
    /** Which of the line's numbers it answers (the called number); all when absent. */
    numbers: z.optional(z.array(digits()).check(z.minLength(1, "list at least one number, or leave the key out for all"))),
    /** Retention: the oldest messages go first once a limit is passed (0: no limit). */
    max_messages: z._default(int(z.minimum(0)), 100),
    max_age_days: z._default(int(z.minimum(0)), 90),
    max_mb: z._default(z.number().check(z.minimum(0)), 200),
    /**
     * The start of the message URLs in events (`<base_url>/voicemail/<id>.wav?token=…`); by
     * default the LAN-side HTTP listener's: `http://<lan.advertise>:<vpn.provision_port>`.
     */
    base_url: z.optional(str(z.regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'expected a URL like "http://192.168.1.2:8580"'))),
  });

export type VoicemailConfig = z.output<ReturnType<typeof voicemailSchema>>;
