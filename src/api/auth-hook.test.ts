import { afterEach, describe, expect, it } from "vitest";
import { PRIVATE_ROUTES, startApi, stopApis, storeState, TOKEN } from "../testing/api-harness.js";

afterEach(stopApis);

describe.each(PRIVATE_ROUTES)("$method $path", (route) => {
  it("answers with the right token", async () => {
    const api = await startApi();
    for (const pair of route.pairs ?? []) api.pairs.setPair(pair);
    for (const job of route.jobs ?? []) api.jobs.setJob(job);
    const reply = await api.call(route.method, route.path, { json: route.json });
    expect(reply.status, reply.text).toBeGreaterThanOrEqual(200);
    expect(reply.status, reply.text).toBeLessThan(300);
  });

  const wrongHeaders: [string, Record<string, string> | undefined, string | null][] = [
    ["no token", undefined, null],
    ["a wrong token", undefined, "not-the-token"],
    ["a wrong token of the same length", undefined, TOKEN.replace(/.$/, "0")],
    ["the token with a suffix", undefined, `${TOKEN}x`],
    ["a Basic header", { authorization: `Basic ${TOKEN}` }, null],
    ["an empty Bearer header", { authorization: "Bearer " }, null],
  ];

  it.each(wrongHeaders)(
    "refuses %s with 401 UNAUTHORIZED and changes nothing",
    async (_name, headers, token) => {
      const api = await startApi();
      const before = storeState(api.store);
      const reply = await api.call(route.method, route.path, { json: route.json, token, headers });
      expect(reply.status).toBe(401);
      expect(reply.body.code).toBe("UNAUTHORIZED");
      expect(reply.body.message).toMatch(/^Cannot .+: /);
      expect(reply.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(storeState(api.store)).toEqual(before);
    },
  );
});

describe("the bearer token", () => {
  it("is not needed for /healthz", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/healthz", { token: null });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: "ok" });
  });

  it("is accepted with a lower-case scheme name", async () => {
    const api = await startApi();
    const reply = await api.call("GET", "/v1/volumes", {
      token: null,
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(reply.status).toBe(200);
  });

  it("keeps a POST /v1/volumes without it from creating the volume", async () => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/volumes", {
      json: { volser: "NEW001" },
      token: null,
    });
    expect(reply.status).toBe(401);
    expect(api.store.listVolumes().map((volume) => volume.volser)).toEqual(["VOL001", "VOL002"]);
  });

  it("is refused in the URL's query, even when it is right, with the header too, and on /healthz", async () => {
    const api = await startApi();
    for (const [path, token] of [
      [`/v1/volumes?token=${TOKEN}`, null],
      [`/v1/volumes?access_token=${TOKEN}`, TOKEN],
      [`/healthz?Token=${TOKEN}`, null],
    ] as const) {
      const reply = await api.call("GET", path, { token });
      expect(reply.status, path).toBe(401);
      expect(reply.body.code).toBe("UNAUTHORIZED");
      expect(reply.body.message).toMatch(
        /a token in the URL \(".+="\) is refused; send it in the Authorization header/,
      );
    }
    const before = storeState(api.store);
    const post = await api.call("POST", `/v1/volumes?token=${TOKEN}`, {
      json: { volser: "NEW001" },
    });
    expect(post.status).toBe(401);
    expect(storeState(api.store)).toEqual(before);
  });

  it("is asked for before an unknown route is revealed as unknown", async () => {
    const api = await startApi();
    expect((await api.call("GET", "/v1/nothing", { token: null })).status).toBe(401);
    expect((await api.call("GET", "/v1/nothing")).status).toBe(404);
  });
});
