// Runs before `npm start` / `npm test`: on a fresh clone, install the locked dependencies
// first, so both commands work with nothing installed by hand.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

if (!existsSync(new URL("../node_modules/.package-lock.json", import.meta.url))) {
  process.stderr.write("hikari-gw: installing dependencies (npm install)…\n");
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund"], { stdio: "inherit", cwd: new URL("..", import.meta.url) });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
