import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A throw-away Ceph cluster for the object store tests (GSNAP_TEST_S3=off skips them).
    globalSetup: ["test/setup/ceph.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
