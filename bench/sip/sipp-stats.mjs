/**
 * Readers of SIPp's CSV traces, shared by bench:sip (bench/sip/run.mjs) and bench:pi: the last
 * row of -trace_stat, and the retransmissions of -trace_counts.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Last data row of SIPp's -trace_stat CSV as {column: value}. */
export function readStat(file) {
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const names = lines[0].split(";");
  const last = lines[lines.length - 1].split(";");
  return Object.fromEntries(names.map((n, i) => [n, last[i]]));
}

/**
 * Every *_Retrans column (sent and received) of SIPp's -trace_counts CSV: the total, and which
 * messages ("2_REGISTER:1531") so a failing step says where the time went.
 */
export function readRetrans(dir) {
  const f = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith("_counts.csv")) : undefined;
  if (!f) return { total: NaN, by: [] };
  const lines = readFileSync(join(dir, f), "utf8").trim().split("\n");
  const names = lines[0].split(";");
  const last = lines[lines.length - 1].split(";");
  const by = [];
  let total = 0;
  names.forEach((name, i) => {
    const n = Number(last[i]) || 0;
    if (!name.endsWith("_Retrans") || n === 0) return;
    total += n;
    by.push(`${name.replace(/_Retrans$/, "")}:${n}`);
  });
  return { total, by };
}
