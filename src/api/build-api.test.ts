import { afterEach, describe, expect, it } from "vitest";
import { ALL_ROUTES, startApi, stopApis, storeState } from "../testing/api-harness.js";
import { seededRandom } from "../testing/prng.js";

afterEach(stopApis);

/** The OpenAPI path of a Fastify route: `/v1/volumes/:volser` is `/v1/volumes/{volser}`. */
function openApiPath(path: string): string {
  return path
    .replace("/VOL001", "/{volser}")
    .replace("/J000001", "/{id}")
    .replace("/01A0/GS0002.01B0", "/{ssid}/{to}");
}

describe("GET /openapi.json", () => {
  it("describes the API as gsnap with a bearer security scheme", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/openapi.json");
    expect(reply.status).toBe(200);
    expect(reply.body.openapi).toMatch(/^3\./);
    expect(reply.body.info).toMatchObject({ title: "gsnap", version: "0.1.0-test" });
    expect(reply.body.components.securitySchemes.bearer).toEqual({
      type: "http",
      scheme: "bearer",
    });
    expect(reply.body.security).toEqual([{ bearer: [] }]);
    expect(reply.body.paths["/healthz"].get.security).toEqual([]);
  });

  it("lists every route with its method, and no other", async () => {
    const api = await startApi();
    const { paths } = (await api.call("GET", "/openapi.json")).body;
    const documented = Object.entries(paths as Record<string, object>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const expected = ALL_ROUTES.filter((route) => route.path !== "/openapi.json").map(
      (route) => `${route.method} ${openApiPath(route.path)}`,
    );
    expect(documented.sort()).toEqual(expected.sort());
  });

  it("carries the request schemas, refusing unknown properties", async () => {
    const api = await startApi();
    const { paths } = (await api.call("GET", "/openapi.json")).body;
    const create = paths["/v1/volumes"].post;
    const body = create.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["volser"]);
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(["201", "4XX", "5XX"]));
    expect(paths["/v1/volumes/{volser}"].get.parameters).toContainEqual(
      expect.objectContaining({ name: "volser", in: "path", required: true }),
    );
    expect(paths["/v1/snap"].post.requestBody.content["application/json"].schema.required).toEqual([
      "source",
      "target",
    ]);
  });
});

const MALFORMED_JSON = [
  "{",
  "}",
  '{"volser":}',
  '{"volser":"NEW001",}',
  "{'volser':'NEW001'}",
  '{"source":"VOL001:0.0-0.14","target":"VOL002"',
  '{"a":1}{"b":2}',
  "[1,2",
  "undefined",
  "NaN",
  '"unterminated',
  '{"volser":"\\x41"}',
  "\u0000\u0001",
  "[".repeat(20_000),
];

/** Requests spread over this many connections at once, to shake out races in the error paths. */
const GARBAGE_CONCURRENCY = 16;

describe("garbage", () => {
  const seed = Number(process.env.GSNAP_SEED ?? 20_240_601);

  it(`gets a 4xx from every route, never crashes the server and changes nothing (seed ${seed})`, async () => {
    const api = await startApi();
    const next = seededRandom(seed);
    const randomBytes = (length: number) =>
      Uint8Array.from({ length }, () => Math.floor(next() * 256));
    const before = storeState(api.store);
    const paths = [...new Set(ALL_ROUTES.map((route) => route.path))];
    const requests: (() => Promise<{ status: number; what: string }>)[] = [];
    for (const path of paths) {
      for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
        const bodies: [string, string | Uint8Array][] = [
          ...MALFORMED_JSON.map((text): [string, string] => ["application/json", text]),
          ["application/json", randomBytes(8 + Math.floor(next() * 4096))],
          ["application/json", randomBytes(8 + Math.floor(next() * 64))],
          ["application/octet-stream", randomBytes(8 + Math.floor(next() * 4096))],
          ["text/plain", randomBytes(8 + Math.floor(next() * 256))],
          ["application/json", randomBytes(70_000)],
        ];
        for (const [contentType, raw] of bodies) {
          const what = `${method} ${path} ${contentType} ${raw.length} bytes`;
          requests.push(async () => {
            const reply = await api.call(method, path, { raw, contentType });
            return { status: reply.status, what };
          });
        }
      }
    }
    for (let i = 0; i < 64; i += 1) {
      const segment = Buffer.from(randomBytes(1 + Math.floor(next() * 40))).toString("latin1");
      for (const prefix of ["/v1/volumes/", "/v1/system?", "/v1/stats?x="]) {
        const path = prefix + encodeURIComponent(segment).replace(/%2[05]/g, "%");
        requests.push(async () => {
          const reply = await api.call("GET", path);
          return { status: reply.status, what: `GET ${path}` };
        });
      }
    }
    const failures: string[] = [];
    for (let i = 0; i < requests.length; i += GARBAGE_CONCURRENCY) {
      const batch = requests.slice(i, i + GARBAGE_CONCURRENCY).map((request) => request());
      for (const { status, what } of await Promise.all(batch)) {
        if (status < 400 || status >= 500) failures.push(`${status} for ${what}`);
      }
    }
    expect(failures).toEqual([]);
    expect((await api.call("GET", "/healthz")).status).toBe(200);
    expect(storeState(api.store)).toEqual(before);
    expect((await api.store.check()).ok).toBe(true);
  });
});
