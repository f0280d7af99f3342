/**
 * The repository stands on its own: a fresh clone, with nothing beside it, must build, test
 * and read completely. So no file may read or cite a path outside the repository:
 *
 *  - a relative path (`../` chains) that, resolved from the file's own folder, climbs out of
 *    the repository, or lands in a top-level folder the repository does not have (a
 *    mis-levelled chain to a folder that sits beside the checkout on one machine);
 *  - an absolute path into the development machine's work directory;
 *  - a citation of a notes file (the design, NGN, style, benchmark or firmware notes) that is
 *    not in the repository: the project's own words are under docs/ (docs/testing.md).
 *
 * Datagram fixtures (binary, `*.dat`) are data, not citations, and are not read.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Folders whose every file is checked, plus the files at the top level. */
const SCANNED = ["src", "test", "bench", "scripts", ".ci", "systemd", "deploy", "firmware", "docs"];
// "out": firmware/out, the image build's output (gitignored: a Debian root tarball, the images).
const SKIP_DIRS = new Set(["node_modules", ".git", "dist", "coverage", "out"]);
/** Top-level files checked: the project's own text files (not the lock, not a stray log or `.git`). */
const TOP_FILE = /^(?!package-lock\.json$).*\.(md|json|ts|mjs|cjs|js|ya?ml)$|^\.git(attributes|ignore)$/;
const BINARY = /\.(dat|pcap|pcapng|ulaw|wav|png|jpg|gz|img|bin)$/;

/** Notes that live outside the repository; citing one is only fine if that file is in it. */
const NOTES = ["DESIGN", "NGN", "STYLE", "FIRMWARE", "BENCHMARKS"];

/** A `../` chain at the start of a path token (not the middle of `a/../b`), and the rest of the path. */
const RELATIVE = /(?<![\w./-])((?:\.\.\/)+)([^\s"'`)\]<>,;:*]*)/g;
const WORK = /(?<![\w.-])\/work(?=[/\s"'`)\]]|$)/g;
const NOTE = new RegExp(`(?<![\\w-])((?:[\\w.-]+/)*)(${NOTES.join("|")})(\\.md\\b|\\s+§)`, "g");

export interface Finding {
  /** Repository-relative path, `/`-separated. */
  file: string;
  line: number;
  why: string;
  text: string;
}

export interface RepoView {
  /** Names a top-level path may start with: what exists at the root, plus ignored outputs (dist/). */
  topLevel: Set<string>;
  /** Whether a repository-relative path exists. */
  exists: (repoPath: string) => boolean;
}

export function repoView(dir = root): RepoView {
  const topLevel = new Set(readdirSync(dir));
  const ignore = existsSync(join(dir, ".gitignore")) ? readFileSync(join(dir, ".gitignore"), "utf8") : "";
  for (const raw of ignore.split("\n")) {
    const name = raw.trim().replace(/^\/|\/$/g, "");
    if (name && !name.startsWith("#") && !/[*?[\]/!]/.test(name)) topLevel.add(name);
  }
  return { topLevel, exists: (p) => existsSync(join(dir, p)) };
}

/** Every reference in `text` (the content of repository file `file`) that leaves the repository. */
export function outsideReferences(file: string, text: string, repo: RepoView): Finding[] {
  const out: Finding[] = [];
  const folder = posix.dirname(file);
  text.split("\n").forEach((lineText, i) => {
    const add = (why: string) => out.push({ file, line: i + 1, why, text: lineText.trim() });
    for (const m of lineText.matchAll(RELATIVE)) {
      const target = posix.normalize(posix.join(folder, m[1]! + m[2]!)).replace(/\/$/, "");
      if (target === ".." || target.startsWith("../")) add(`"${m[0]}" climbs out of the repository`);
      else if (target !== "." && !repo.topLevel.has(target.split("/")[0]!))
        add(`"${m[0]}" lands in ${target.split("/")[0]}/, which the repository does not have`);
    }
    for (const m of lineText.matchAll(WORK)) add(`absolute path into the machine's work directory (${m[0]})`);
    for (const m of lineText.matchAll(NOTE)) {
      const cited = `${m[1]}${m[2]}.md`;
      const here = posix.normalize(posix.join(folder, cited));
      if (repo.exists(here) || repo.exists(posix.normalize(cited))) continue;
      add(`cites ${cited}, which is not in the repository (cite docs/…)`);
    }
  });
  return out;
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (!SKIP_DIRS.has(name)) walk(p, out);
    } else out.push(p);
  }
  return out;
}

/** The files checked, absolute. */
export function scannedFiles(dir = root): string[] {
  const files: string[] = [];
  for (const d of SCANNED) if (existsSync(join(dir, d))) walk(join(dir, d), files);
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (TOP_FILE.test(name) && statSync(p).isFile()) files.push(p);
  }
  return files.filter((f) => !BINARY.test(f));
}

export function checkRepository(dir = root): { files: number; findings: Finding[] } {
  const repo = repoView(dir);
  const findings: Finding[] = [];
  const files = scannedFiles(dir);
  for (const f of files) {
    const buf = readFileSync(f);
    if (buf.includes(0)) continue; // binary: data, not citations
    findings.push(...outsideReferences(relative(dir, f).split(sep).join("/"), buf.toString("utf8"), repo));
  }
  return { files: files.length, findings };
}

const show = (fs: Finding[]) => fs.map((f) => `${f.file}:${f.line}: ${f.why}\n    ${f.text}`).join("\n");

describe("the repository stands on its own", () => {
  it("no file reads or cites a path outside it", () => {
    const { files, findings } = checkRepository();
    expect(files).toBeGreaterThan(200);
    expect(show(findings)).toBe("");
  });

  // The planted lines are assembled from pieces, so this file does not trip its own check.
  const UP = ".." + "/";
  const repo = repoView();

  it("catches a planted read of the notes folder beside the repository (shared/testdata), however many levels up", () => {
    const escaping = `const ROOT = fileURLToPath(new URL("${UP.repeat(4)}shared/testdata/rfc4475/", import.meta.url));`;
    expect(outsideReferences("src/sip/message/torture.test.ts", escaping, repo).map((f) => f.why)).toEqual([
      `"${UP.repeat(4)}shared/testdata/rfc4475/" climbs out of the repository`,
    ]);
    // One level short of escaping: it stays in the checkout but names a folder the repository lacks.
    const misLevelled = `readFileSync("${UP}shared/testdata/rfc4475/valid/wsinv.dat")`;
    expect(outsideReferences("src/x.ts", misLevelled, repo).map((f) => f.why)).toEqual([
      `"${UP}shared/testdata/rfc4475/valid/wsinv.dat" lands in shared/, which the repository does not have`,
    ]);
  });

  it("catches a citation of a notes file that is not in the repository", () => {
    const cases = [
      `// see ${"DESIGN"}.md "Command line"`,
      ` * (${"NGN"}.md "Media"): PCMU only`,
      ` * hot path (${"STYLE"} §4)`,
      `// see shared ${"BENCHMARKS"}.md`,
      `# ${"FIRMWARE"}.md says`,
      `see ${"docs/DESIGN"}.md`, // a docs/ path only counts if that file is there
    ];
    for (const line of cases) expect(outsideReferences("src/cli.ts", line, repo), line).toHaveLength(1);
  });

  it("catches an absolute path into the work directory", () => {
    const f = outsideReferences("test/lab/x.ts", `const notes = "${"/wo" + "rk"}/shared/x.md";`, repo);
    expect(f.map((x) => x.why)).toEqual([`absolute path into the machine's work directory (${"/wo" + "rk"})`]);
  });

  it("leaves legitimate relative paths and docs/ citations alone", () => {
    const legit: [string, string][] = [
      ["src/pbx/pbx.test.ts", `import { PbxRig } from "${UP}${UP}test/support/pbx/pbx-rig.js";`],
      ["src/sip/message/torture.test.ts", `const ROOT = fileURLToPath(new URL("${UP.repeat(3)}test/fixtures/rfc4475/", import.meta.url));`],
      ["src/cli.ts", `readFileSync(new URL("${UP}package.json", import.meta.url), "utf8")`],
      ["bench/rtp/send-micro.mjs", `await import(join(here, "${UP}${UP}dist/media/fast-send.js"));`],
      ["scripts/ensure-deps.mjs", `existsSync(new URL("${UP}node_modules/.package-lock.json", import.meta.url))`],
      ["test/lab/ngn/README.md", `as [docs/ngn.md](${UP.repeat(3)}docs/ngn.md) describes it; \`${UP}ngn-emulator.lab.test.ts\``],
      ["test/unit/x.test.ts", `resolve(dirname(file), "${UP}..")`],
      ["src/trunk/trunk.ts", `// docs/ngn.md "Registration": never rport; docs/design.md "Hot path"`],
      ["systemd/hikari-gw.service", `ExecStart=/usr/bin/node /opt/hikari-gw/dist/cli.js run --config /etc/hikari-gw/config.yaml`],
      [".ci/run", `cd "$(dirname "$0")/.."`],
      ["src/x.ts", `// https://example.org/work/x and /workspace and a/${UP}b`],
      ["src/x.ts", `// the NGN answers; NGN.example; STYLE guide; Benchmarks`],
    ];
    for (const [file, line] of legit) expect(outsideReferences(file, line, repo), `${file}: ${line}`).toEqual([]);
  });
});
