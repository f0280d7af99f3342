/**
 * Waiting on a console program's output (baresip, linphonec): polls what it printed since
 * `from` for `re`, bounded in time, and fails at once when the program has exited, with the
 * tail of its output in the message.
 */
export async function waitForOutput(p: { output: () => string; alive: () => boolean; name: string }, re: RegExp, timeoutMs: number, from = 0, tail = 2500): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const out = p.output();
    const m = re.exec(out.slice(from));
    if (m) return m;
    if (Date.now() > end || !p.alive()) throw new Error(`${p.name}: no ${re} within ${timeoutMs} ms${p.alive() ? "" : " (it exited)"}\n${out.slice(Math.max(from, out.length - tail))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
