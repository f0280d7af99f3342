import { defineConfig } from "vitest/config";

// Unit tests live beside the code (src/**/x.test.ts); the network lab has its own config
// (test/lab/vitest.config.ts) because it needs root, namespaces and Debian tools.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/unit/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
