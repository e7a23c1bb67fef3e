import http from "node:http";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startApi, stopApis, storeState, TOKEN } from "../testing/api-harness.js";
import { BODY_LIMIT_BYTES } from "./api-context.js";

afterEach(() => {
  vi.restoreAllMocks();
  return stopApis();
});

describe("the error handler", () => {
  const raws: [string, string, string, number, RegExp][] = [
    ["malformed JSON", '{"volser": "NEW001"', "application/json", 400, /not valid JSON/],
    [
      "JSON with a trailing comma",
      '{"volser": "NEW001",}',
      "application/json",
      400,
      /not valid JSON/,
    ],
    ["an empty JSON body", "", "application/json", 400, /body is empty/],
    [
      "a __proto__ key",
      '{"volser":"NEW001","__proto__":{"x":1}}',
      "application/json",
      400,
      /not valid JSON/,
    ],
    ["a plain-text body", "volser=NEW001", "text/plain", 400, /body must be object/],
    ["a form body", "volser=NEW001", "application/x-www-form-urlencoded", 415, /Content-Type/],
    [
      "a body one byte over the limit",
      "x".repeat(BODY_LIMIT_BYTES + 1),
      "application/json",
      413,
      /larger than the limit of 65536 bytes/,
    ],
  ];

  it.each(raws)(
    "refuses %s with REQUEST_INVALID and changes nothing",
    async (_name, raw, contentType, status, message) => {
      const api = await startApi();
      const before = storeState(api.store);
      const reply = await api.call("POST", "/v1/volumes", { raw, contentType });
      expect(reply.status, reply.text).toBe(status);
      expect(reply.body).toEqual({
        code: "REQUEST_INVALID",
        message: expect.stringMatching(message),
      });
      expect(reply.body.message).toMatch(/^Cannot create a volume: /);
      expect(storeState(api.store)).toEqual(before);
    },
  );

  it("accepts a body just under the limit as far as parsing goes", async () => {
    const api = await startApi();
    const padding = " ".repeat(BODY_LIMIT_BYTES - 40);
    const reply = await api.call("POST", "/v1/volumes", { raw: `{"volser":"NEW001"}${padding}` });
    expect(reply.status).toBe(201);
  });

  it("refuses a chunked body that grows past the limit with 413", async () => {
    const api = await startApi();
    const { port } = new URL(api.baseUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/v1/volumes",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on("error", reject);
      const chunk = Buffer.alloc(8 * 1024, 0x20);
      for (let sent = 0; sent <= BODY_LIMIT_BYTES; sent += chunk.length) request.write(chunk);
      request.end();
    });
    expect(status).toBe(413);
    expect(api.store.listVolumes()).toHaveLength(2);
  });

  it("answers an unknown route with 404 ROUTE_NOT_FOUND", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v2/volumes");
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({
      code: "ROUTE_NOT_FOUND",
      message: 'Cannot GET "/v2/volumes": no such route; GET /openapi.json lists them',
    });
  });

  it("answers a known path with an unknown method with 404 ROUTE_NOT_FOUND", async () => {
    const api = await startApi();
    const reply = await api.call("PUT", "/v1/volumes/VOL001", { json: { volser: "VOL001" } });
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe("ROUTE_NOT_FOUND");
  });

  it("cuts a long unknown URL in its message", async () => {
    const api = await startApi();
    const reply = await api.call("GET", `/${"a".repeat(5000)}`);
    expect(reply.status).toBe(404);
    expect(reply.body.message.length).toBeLessThan(300);
  });

  it("answers a badly percent-encoded URL with 400 REQUEST_INVALID", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v1/volumes/%ZZ");
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      code: "REQUEST_INVALID",
      message: 'Cannot GET "/v1/volumes/%ZZ": the URL is not validly percent-encoded',
    });
  });

  it("passes a GsnapError's own status and code through, 5xx too", async () => {
    const api = await startApi();
    await api.store.close();
    const reply = await api.call("GET", "/v1/volumes");
    expect(reply.status).toBe(503);
    expect(reply.body.code).toBe("STORE_CLOSED");
    expect(reply.body.message).toMatch(/^Cannot use the store in .+: it is closed$/);
  });

  it("answers an unexpected error with 500 INTERNAL, a generic message and no stack, and logs it", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const api = await startApi({ logger });
    vi.spyOn(api.store, "listVolumes").mockImplementation(() => {
      throw new TypeError("secret detail at /var/lib/gsnap");
    });
    const reply = await api.call("GET", "/v1/volumes");
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({
      code: "INTERNAL",
      message: "Cannot list volumes: an internal error occurred; the server log has the details",
    });
    expect(reply.text).not.toMatch(/secret|TypeError|at /);
    const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.level === 50);
    expect(logged.err.message).toBe("secret detail at /var/lib/gsnap");
    expect(logged.err.stack).toMatch(/TypeError/);
  });

  it("sends every refusal as exactly { code, message } in JSON", async () => {
    const api = await startApi();
    const replies = await Promise.all([
      api.call("GET", "/v1/volumes", { token: null }),
      api.call("POST", "/v1/volumes", { raw: "{" }),
      api.call("POST", "/v1/volumes", { json: {} }),
      api.call("GET", "/v1/volumes/NOPE"),
      api.call("GET", "/nope"),
      api.call("GET", "/v1/volumes/%ZZ"),
    ]);
    for (const reply of replies) {
      expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
      expect(Object.keys(reply.body)).toEqual(["code", "message"]);
      expect(reply.text).not.toMatch(/statusCode|stack/);
    }
  });
});
