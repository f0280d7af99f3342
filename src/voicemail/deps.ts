/**
 * `wavefile` and `alawmulaw` loaded as the CommonJS builds their `main` names. Both also ship an
 * ESM `module` entry with named exports only, and a bundling loader (vite-node, vitest's inlined
 * deps) picks that one, where a default import is undefined; Node picks `main`. Requiring them
 * gives every runner the same object.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const wavefile = require("wavefile") as typeof import("wavefile");
export const alawmulaw = require("alawmulaw") as typeof import("alawmulaw");
