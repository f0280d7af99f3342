/**
 * `npm run build`'s second step (after tsc): the gateway as one CommonJS file,
 * dist/hikari-gw.cjs, and dist/cli.js as its launcher. tsc's per-module output stays in dist/
 * beside it: the labs and benches drive single modules (the DHCP client, the relay) from there.
 *
 * Why (docs/performance.md, "Idle memory"): started from ~250 ES modules (src/ and zod's), Node
 * resolves and links each one, and that loop runs hot enough for V8 to optimise Node's own
 * loader; every ES-module import of a builtin also evaluates that builtin's lazy getters. On
 * Node 24, the Pi image's, one file cuts idle RSS by ~7 MB and halves the time to ready.
 * The file is ASCII (esbuild escapes the rest): V8 keeps a script's source for as long as the
 * script lives, at two bytes a character if a single one is outside Latin-1 (a "—" in a
 * comment is enough), and comments are left out.
 *
 * Bundled: src/ and the packages an idle gateway loads (BUNDLED). Left in node_modules: the
 * native addon (raw-socket, built for the machine it runs on), pino (its transports resolve
 * worker files at run time), and the packages only a feature in use loads (mqtt, aedes, qrcode,
 * wavefile, alawmulaw…): inside the one script their source would be held from start-up on.
 */
import { build } from "esbuild";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BUNDLED = ["zod", "yaml", "sdp-transform"];

/** Every dependency but the bundled ones, by package name and any subpath of it. */
export function externals(root) {
  const deps = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies ?? {});
  return deps.filter((d) => !BUNDLED.includes(d)).flatMap((d) => [d, `${d}/*`]);
}

export async function bundle(root, outDir = join(root, "dist")) {
  await build({
    entryPoints: [join(root, "src", "cli.ts")],
    outfile: join(outDir, "hikari-gw.cjs"),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: externals(root),
    charset: "ascii",
    legalComments: "none",
    // Comments out (whitespace with them); names stay, so stack traces still name every function.
    minifyWhitespace: true,
    // import.meta.url in CommonJS: the bundle's own URL, in dist/ as tsc's output was.
    define: { "import.meta.url": "__hgwModuleUrl" },
    banner: { js: 'var __hgwModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    logLevel: "warning",
  });
  const launcher = [
    "#!/usr/bin/env node",
    "// The hikari-gw command: dist/hikari-gw.cjs, built by scripts/bundle.mjs (why: there).",
    'import { createRequire } from "node:module";',
    'createRequire(import.meta.url)("./hikari-gw.cjs");',
    "",
  ].join("\n");
  // Mode 0644 as tsc's files: it is run as `node dist/cli.js` (and npm links `bin` itself).
  writeFileSync(join(outDir, "cli.js"), launcher, { mode: 0o644 });
  chmodSync(join(outDir, "cli.js"), 0o644);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle(fileURLToPath(new URL("..", import.meta.url)));
