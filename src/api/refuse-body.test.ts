import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis, storeState } from "../testing/api-harness.js";

afterEach(stopApis);

describe("routes that take no body", () => {
  const cases: [string, string, { json?: unknown; raw?: string; contentType?: string }][] = [
    ["DELETE", "/v1/volumes/VOL001", { json: { volser: "VOL002" } }],
    ["DELETE", "/v1/volumes/VOL001", { raw: "yes", contentType: "text/plain" }],
    ["POST", "/v1/fsck", { json: { repair: true } }],
  ];

  it.each(cases)("refuse %s %s with a body and change nothing", async (method, path, options) => {
    const api = await startApi();
    const before = storeState(api.store);
    const reply = await api.call(method, path, options);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("REQUEST_INVALID");
    expect(reply.body.message).toMatch(/^Cannot .+: this route takes no body, but one was sent$/);
    expect(storeState(api.store)).toEqual(before);
  });
});
