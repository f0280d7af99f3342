import { defineConfig } from "vitest/config";

// The lab builds network namespaces and runs real peers (SIPp, baresip, dnsmasq, kea,
// mosquitto). Files run one at a time: they share the host's netns table and CPU.
export default defineConfig({
  test: {
    include: ["test/lab/**/*.lab.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
