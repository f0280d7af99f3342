/**
 * The static import graph of the shipped TypeScript: what a module loads the moment it is
 * imported (value imports and re-exports; `import type` and `import()` are left out, since they
 * load nothing or load on demand). For tests that keep an idle gateway's memory small.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import ts from "typescript";

/** Specifiers a file imports eagerly: relative ones resolved to .ts paths, bare ones as written. */
export function staticImports(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const st of src.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause;
      // `import type {…}`, or an import whose every named binding is `type`: erased by tsc.
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      if (clause && !clause.name && named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)) continue;
      spec = st.moduleSpecifier;
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && !st.isTypeOnly) {
      spec = st.moduleSpecifier;
    }
    if (!spec || !ts.isStringLiteral(spec)) continue;
    const s = spec.text;
    out.push(s.startsWith(".") ? resolve(dirname(file), s.replace(/\.js$/, ".ts")) : s);
  }
  return out;
}

/** Every module reachable from `entry` by static imports, each with the chain that first reached it. */
export function staticClosure(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    const file = queue[i]!;
    for (const dep of staticImports(file)) {
      if (seen.has(dep)) continue;
      seen.set(dep, [...seen.get(file)!, dep]);
      if (dep.endsWith(".ts")) queue.push(dep);
    }
  }
  return seen;
}
