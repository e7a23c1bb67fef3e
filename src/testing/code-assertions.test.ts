import { describe, expect, it } from "vitest";
import { codeAssertions } from "./code-assertions.js";

const CODES = ["NO_SPACE", "VOLUME_NOT_FOUND", "IO_ERROR"];

/** The codes asserted in `source`, each with whether its test also put it in. */
function found(source: string): string[] {
  return codeAssertions(source, CODES).map(
    ({ code, injected }) => `${code}${injected ? " injected" : ""}`,
  );
}

describe("codeAssertions", () => {
  it("finds a code in the arguments of a matcher on an expect chain", () => {
    expect(found(`it("a", () => { expect(codeOf(f)).toBe("NO_SPACE"); });`)).toEqual(["NO_SPACE"]);
    expect(
      found(`it("a", async () => {
        await expect(p).rejects.toMatchObject({ code: "VOLUME_NOT_FOUND" });
        expect(() => f()).not.toThrow(/IO_ERROR/);
        expect(exit).toBe(ERROR_CODES.NO_SPACE.exitCode);
      });`),
    ).toEqual(["VOLUME_NOT_FOUND", "IO_ERROR", "NO_SPACE"]);
  });

  it("does not count a code that is only named: a test name, a message, an input, a list", () => {
    expect(
      found(`
        // NO_SPACE in a comment
        it("fails with NO_SPACE", () => {
          expect(errnoFor("NO_SPACE")).toBe(28);
          expect(result.code, "VOLUME_NOT_FOUND expected").toBe(31);
          const known = ["IO_ERROR"].includes(code);
        });`),
    ).toEqual([]);
  });

  it("marks an assertion injected when its test puts the code in itself", () => {
    expect(
      found(`
        it("a", () => {
          device.failAppends("NO_SPACE");
          expect(codeOf(write)).toBe("NO_SPACE");
          expect(failureCode(new GsnapError("IO_ERROR", "x")).code).toBe("IO_ERROR");
        });
        it("b", () => { expect(codeOf(write)).toBe("NO_SPACE"); });`),
    ).toEqual(["NO_SPACE injected", "IO_ERROR injected", "NO_SPACE"]);
  });

  it("marks a whole file's assertions injected when a helper outside the tests puts the code in", () => {
    expect(
      found(`
        const full = () => device.failAppends("NO_SPACE");
        it("a", () => { full(); expect(codeOf(write)).toBe("NO_SPACE"); });`),
    ).toEqual(["NO_SPACE injected"]);
  });

  it("follows a code from an it.each row to the parameter it binds, asserted or put in", () => {
    expect(
      found(`
        const rows = [["/v1/volumes/NOPE", 404, "VOLUME_NOT_FOUND"]];
        it.each(rows)("refuses %s", async (path, status, code) => {
          expect((await call(path)).body.code).toBe(code);
        });
        it.each([{ code: "IO_ERROR" }])("job failed with $code", ({ code }) => {
          jobs.setJob({ resultCode: code });
          expect(exitOf(job)).toBe(ERROR_CODES[code].exitCode);
        });`),
    ).toEqual(["VOLUME_NOT_FOUND", "IO_ERROR injected"]);
  });

  it("does not count a row whose code goes to no assertion", () => {
    expect(
      found(`it.each([["a", "NO_SPACE"]])("%s", (input, code) => { expect(input).toBe("a"); });`),
    ).toEqual([]);
  });

  it("follows a code through a for...of table and through a helper that asserts its parameter", () => {
    expect(
      found(`
        it("a", async () => {
          for (const [input, code] of [["x", "NO_SPACE"]]) expect(codeOf(() => f(input))).toBe(code);
          const refused = async (text, code) => {
            const result = await cli(text);
            expect(result.stderr).toMatch(new RegExp(\`^gsnap: \${code}: \`));
          };
          await refused("VOL9", "VOLUME_NOT_FOUND");
          const quiet = (text, code) => run(text, code);
          await quiet("x", "IO_ERROR");
        });`),
    ).toEqual(["NO_SPACE", "VOLUME_NOT_FOUND"]);
  });
});
