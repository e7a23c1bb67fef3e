// Every error code must have a test that provokes it: this test fails when a code in the error list
// is named by no test file, so a new code cannot land without one.

import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors/codes.js";

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(file);
    return entry.name.endsWith(".test.ts") && entry.name !== "error-codes.test.ts" ? [file] : [];
  });
}

it("names every error code in some test", () => {
  const text = [...testFiles("src"), ...testFiles("test")]
    .map((file) => fs.readFileSync(file, "utf8"))
    .join("\n");
  const untested = Object.keys(ERROR_CODES).filter((code) => !text.includes(`"${code}"`));
  expect(untested).toEqual([]);
});
