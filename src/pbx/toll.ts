/**
 * Toll-fraud guard for calls out on the line: which dialled numbers cost more than a call
 * to a Japanese landline, so that a stolen extension password (or a phone tricked into
 * dialling) cannot run up the bill. Numbers are national (the dialplan turned +81 into 0).
 *
 * - international: "010" (the international prefix), "00XY…" (carrier selection prefixes:
 *   001 KDDI, 0033 NTT Com, 0041/0061 SoftBank…, used above all for international calls),
 *   and anything still starting with "+" (a foreign E.164 number);
 * - premium: the pay-per-call services billed through the line, by default 0570 (Navi Dial:
 *   the caller pays a rate set by the called company, no flat-rate plan covers it), 0180
 *   (telephone information / televoting), 0990 (Dial Q2 information charges) and 0170
 *   (dengon dial). 0120/0800 are free to the caller and stay allowed.
 * Both are refused unless allowed: pbx.allow_international, an empty pbx.premium_prefixes,
 * or the dialplan rule that routed the number (allow_international / allow_premium).
 */

export type TollClass = "domestic" | "international" | "premium";

export const DEFAULT_PREMIUM_PREFIXES: readonly string[] = ["0570", "0180", "0990", "0170"];

export function tollClass(number: string, premiumPrefixes: readonly string[]): TollClass {
  if (number.startsWith("+") || number.startsWith("010") || number.startsWith("00")) return "international";
  if (premiumPrefixes.some((p) => number.startsWith(p))) return "premium";
  return "domestic";
}

export interface TollPolicy {
  allowInternational: boolean;
  premiumPrefixes: readonly string[];
}

/** What the dialplan rule that routed a number allows beyond the policy. */
export interface TollAllowance {
  international?: boolean;
  premium?: boolean;
}

/** Why a call to `number` is refused (the 403's reason phrase), or undefined when it may go out. */
export function tollRefusal(number: string, policy: TollPolicy, rule: TollAllowance = {}): string | undefined {
  const cls = tollClass(number, policy.premiumPrefixes);
  if (cls === "international" && !policy.allowInternational && !rule.international) return "International Calls Not Allowed";
  if (cls === "premium" && !rule.premium) return "Premium-Rate Calls Not Allowed";
  return undefined;
}
