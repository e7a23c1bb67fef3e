import fs from "node:fs";
import { expect, it } from "vitest";
import { VERSION } from "./version.js";

it("reports the version package.json gives", () => {
  expect(VERSION).toBe(JSON.parse(fs.readFileSync("package.json", "utf8")).version);
});
