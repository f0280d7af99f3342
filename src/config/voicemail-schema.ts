/**
 * The `voicemail:` block: the answering machine. Off by default; with `enabled: true` the
 * gateway answers inbound line calls itself after `answer_after_s` of ringing, at once when
 * do-not-disturb is on or no phone that would ring is registered, plays the greeting and a
 * beep, and records the caller's message into `state_dir/voicemail/`.
 */
import { z } from "zod";

const digits = z.string().regex(/^[0-9*#+]+$/, "expected a phone number (digits)");

export const voicemailSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Seconds of ringing before the machine answers (the phones stop ringing then). */
    answer_after_s: z.number().int().min(0).max(300).default(20),
    /** A WAV file (8 kHz mono, PCM16 or µ-law); the built-in greeting when absent. */
    greeting: z.string().min(1).optional(),
    /** The longest message, seconds. */
    max_message_s: z.number().int().min(5).max(3600).default(120),
    /** Continuous silence that ends a message, seconds (0: never). */
    silence_s: z.number().int().min(0).max(600).default(10),
    /** A beep between the greeting and the recording. */
    beep: z.boolean().default(true),
    /** Which of the line's numbers it answers (the called number); all when absent. */
    numbers: z.array(digits).min(1, "list at least one number, or leave the key out for all").optional(),
    /** Retention: the oldest messages go first once a limit is passed (0: no limit). */
    max_messages: z.number().int().min(0).default(100),
    max_age_days: z.number().int().min(0).default(90),
    max_mb: z.number().min(0).default(200),
    /**
     * The start of the message URLs in events (`<base_url>/voicemail/<id>.wav?token=…`); by
     * default the LAN-side HTTP listener's: `http://<lan.advertise>:<vpn.provision_port>`.
     */
    base_url: z
      .string()
      .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'expected a URL like "http://192.168.1.2:8580"')
      .optional(),
  })
  .strict()
  .prefault({});

export type VoicemailConfig = z.output<typeof voicemailSchema>;
