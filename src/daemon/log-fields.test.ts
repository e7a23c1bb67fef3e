import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { redactedUrl } from "./log-fields.js";
import { createLogger } from "./serve.js";

describe("request log fields", () => {
  it("keep the path and the query's names, never its values", () => {
    expect(redactedUrl("/v1/volumes")).toBe("/v1/volumes");
    expect(redactedUrl("/v1/jobs/J000001/events?token=abc&x=1&flag")).toBe(
      "/v1/jobs/J000001/events?token=<redacted>&x=<redacted>&flag",
    );
    expect(redactedUrl("/?")).toBe("/?");
  });

  it("keep a token sent in a URL out of the server's log", async () => {
    const lines: string[] = [];
    const logger = createLogger("info", { write: (line: string) => lines.push(line) });
    const app = Fastify({ loggerInstance: logger });
    app.get("/v1/system", async () => ({ ok: true }));
    await app.inject({ method: "GET", url: "/v1/system?token=SECRET-0123456789" });
    await app.close();
    const incoming = lines.map((line) => JSON.parse(line)).find((entry) => entry.req !== undefined);
    expect(incoming.req).toMatchObject({ method: "GET", url: "/v1/system?token=<redacted>" });
    expect(lines.join("")).not.toContain("SECRET-0123456789");
  });
});
