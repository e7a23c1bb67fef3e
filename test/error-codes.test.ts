// Every error code must have a test that provokes it and asserts it: this test fails when a code in
// the error list is asserted by no test (src/testing/code-assertions.ts says what counts), so a new
// code cannot land without one. A test that puts the code in itself (a fake told to fail with it)
// counts only for the few codes listed below, which no test can bring about for real.

import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";
import { type CodeAssertion, codeAssertions } from "../src/testing/code-assertions.js";

/** Codes that only a fault put in by the test can bring about, and why. */
const PROVOKED_ONLY_BY_FAKES: Partial<Record<keyof typeof ERROR_CODES, string>> = {};

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(file);
    return entry.name.endsWith(".test.ts") && entry.name !== "error-codes.test.ts" ? [file] : [];
  });
}

function allAssertions(): (CodeAssertion & { file: string })[] {
  const codes = Object.keys(ERROR_CODES);
  return [...testFiles("src"), ...testFiles("test")].flatMap((file) =>
    codeAssertions(fs.readFileSync(file, "utf8"), codes, file).map((found) => ({
      ...found,
      file,
    })),
  );
}

it("asserts every error code in a test that does not put it in itself", () => {
  const assertions = allAssertions();
  const report = Object.keys(ERROR_CODES).map((code) => {
    const own = assertions.filter((found) => found.code === code);
    return { code, real: own.filter((found) => !found.injected), all: own };
  });
  const missing = report
    .filter(({ code, real, all }) =>
      code in PROVOKED_ONLY_BY_FAKES ? all.length === 0 : real.length === 0,
    )
    .map(
      ({ code, all }) =>
        `${code}${all.length > 0 ? ` (only injected: ${all.map((found) => `${found.file}:${found.line}`).join(", ")})` : ""}`,
    );
  expect(missing).toEqual([]);
});
