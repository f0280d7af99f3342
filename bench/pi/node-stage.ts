/**
 * `bench:pi --node PATH`: the built gateway made runnable on another Node binary (e.g. Node 24,
 * as the Pi image ships, beside this machine's Node 20).
 *
 * The gateway loads one native addon, raw-socket (the DHCP client on the WAN port), and an addon
 * is built for one Node ABI (process.versions.modules): node_modules' copy is the one `npm
 * install` built for the Node that ran it, so under another major version the DHCP client
 * cannot start and the trunk never registers. For such a Node this stages, in DIR:
 *  - dist/ (a copy of the build) and package.json (the CLI reads its version, and "type");
 *  - node_modules/ with every package linked to the checkout's, except raw-socket: copied and
 *    rebuilt with node-gyp against PATH's own headers (--nodedir: the official tarballs and the
 *    npm registry's node-linux-* packages ship include/node beside bin/, so nothing is
 *    downloaded), the way firmware/stage-app.sh builds it for the image; then loaded once in
 *    PATH's Node as a check.
 * For a Node of the same ABI as this one it stages nothing and returns the checkout's dist/cli.js.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export interface NodeRuntime {
  /** The node binary, as given (absolute). */
  node: string;
  /** Its process.version, e.g. "v24.22.3". */
  version: string;
  /** Its process.versions.modules (the native addon ABI). */
  abi: string;
  /** The gateway's CLI to run with it: the checkout's, or the staged copy's. */
  cli: string;
  /** Whether raw-socket was rebuilt for it (a stage under DIR). */
  staged: boolean;
}

function probe(node: string): { version: string; abi: string } {
  let out: string;
  try {
    out = execFileSync(node, ["-p", "process.version + ' ' + process.versions.modules"], { encoding: "utf8", timeout: 30_000 }).trim();
  } catch (e) {
    throw new Error(`--node ${node}: cannot run it (${(e as Error).message.split("\n")[0]})`);
  }
  const [version, abi] = out.split(" ");
  if (!version || !abi) throw new Error(`--node ${node}: unexpected answer "${out}"`);
  return { version, abi };
}

/** node-gyp as npm bundles it (the same one stage-app.sh uses). */
function nodeGyp(): string {
  const root = execFileSync("npm", ["root", "-g"], { encoding: "utf8", timeout: 30_000 }).trim();
  const gyp = join(root, "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  if (!existsSync(gyp)) throw new Error(`node-gyp not found at ${gyp} (npm's bundled copy)`);
  return gyp;
}

export function nodeRuntime(root: string, nodeArg: string, dir: string): NodeRuntime {
  const node = resolve(nodeArg);
  const { version, abi } = probe(node);
  const cli = join(root, "dist", "cli.js");
  if (abi === process.versions.modules) return { node, version, abi, cli, staged: false };

  const nodedir = dirname(dirname(realpathSync(node)));
  if (!existsSync(join(nodedir, "include", "node", "node.h"))) {
    throw new Error(`--node ${node}: ${version} (ABI ${abi}) needs raw-socket rebuilt, but ${nodedir} has no include/node/node.h to build it against (use an official tarball's or a node-linux-* package's bin/node)`);
  }
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  cpSync(join(root, "dist"), join(dir, "dist"), { recursive: true });
  copyFileSync(join(root, "package.json"), join(dir, "package.json"));
  const modules = join(root, "node_modules");
  for (const name of readdirSync(modules)) {
    if (name === "raw-socket" || name.startsWith(".")) continue;
    symlinkSync(join(modules, name), join(dir, "node_modules", name));
  }
  const raw = join(dir, "node_modules", "raw-socket");
  cpSync(join(modules, "raw-socket"), raw, { recursive: true });
  // npm config (an npmrc may set nodedir) reaches node-gyp as npm_config_nodedir and wins over
  // --nodedir: set both, or the addon is built against this Node's headers.
  const build = spawnSync("nice", ["-n", "10", process.execPath, nodeGyp(), "rebuild", `--nodedir=${nodedir}`, "--jobs=1", "--silent"], {
    cwd: raw,
    env: { ...process.env, npm_config_nodedir: nodedir },
    encoding: "utf8",
    timeout: 300_000,
  });
  if (build.status !== 0) throw new Error(`raw-socket for ${version}: node-gyp rebuild failed (${build.error?.message ?? `exit ${build.status}`}): ${(build.stdout + build.stderr).slice(-800)}`);
  const check = spawnSync(node, ["-e", `require(${JSON.stringify(raw)})`], { encoding: "utf8", timeout: 30_000 });
  if (check.status !== 0) throw new Error(`raw-socket rebuilt for ${version} does not load in it: ${check.stderr.slice(-500)}`);
  return { node, version, abi, cli: join(dir, "dist", "cli.js"), staged: true };
}
