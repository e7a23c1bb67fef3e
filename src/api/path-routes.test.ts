import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis } from "../testing/api-harness.js";

afterEach(stopApis);

describe("path routes", () => {
  it("establish a path with 201 and list it", async () => {
    const api = await startApi();
    const links = ["127.0.0.1:8481", "[::1]:8482"];
    const reply = await api.call("POST", "/v1/paths", {
      json: { ssid: "01a1", to: "GS0002.01B1", links },
    });
    expect(reply.status, reply.text).toBe(201);
    expect(reply.body).toMatchObject({
      ssid: "01A1",
      remoteSerial: "GS0002",
      remoteSsid: "01B1",
      state: "established",
      links: [{ address: links[0], state: "established" }, { address: links[1] }],
    });
    const list = await api.call("GET", "/v1/paths");
    expect(list.body.map((path: { ssid: string }) => path.ssid)).toEqual(["01A0", "01A1"]);
  });

  it("remove a path with 204, then refuse to remove it again with PATH_NOT_FOUND", async () => {
    const api = await startApi();
    expect((await api.call("DELETE", "/v1/paths/01A0/GS0002.01B0")).status).toBe(204);
    expect((await api.call("GET", "/v1/paths")).body).toEqual([]);
    const again = await api.call("DELETE", "/v1/paths/01A0/GS0002.01B0");
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("PATH_NOT_FOUND");
    expect(again.body.message).toMatch(/^Cannot remove the path .+: /);
  });

  it.each([
    [{ ssid: "01A0", to: "GS0002.01B0", links: ["h:1"] }, 409, "PATH_EXISTS"],
    [{ ssid: "0999", to: "GS0002.01B0", links: ["h:1"] }, 400, "SSID_INVALID"],
    [{ ssid: "01A0", to: "gs0002.01B0", links: ["h:1"] }, 400, "SERIAL_INVALID"],
    [{ ssid: "01A0", to: "GS0002.1B0", links: ["h:1"] }, 400, "SSID_INVALID"],
    [{ ssid: "01A0", to: "GS0002.01B2", links: [] }, 400, "LINK_ADDRESS_INVALID"],
    [{ ssid: "01A0", to: "GS0002.01B2", links: ["no-port"] }, 400, "LINK_ADDRESS_INVALID"],
    [{ ssid: "01A0", to: "GS0002.01B2", links: "h:1" }, 400, "REQUEST_INVALID"],
    [{ ssid: "01A0", to: "GS0002.01B2" }, 400, "REQUEST_INVALID"],
  ])("refuse establishing %j with %i %s", async (json, status, code) => {
    const api = await startApi();
    const reply = await api.call("POST", "/v1/paths", { json });
    expect(reply.status, reply.text).toBe(status);
    expect(reply.body.code).toBe(code);
    expect(reply.body.message).toMatch(/^Cannot /);
    expect(api.paths.list()).toHaveLength(1);
  });

  it("answer PATHS_UNAVAILABLE when the API has no paths", async () => {
    const api = await startApi({ withoutPaths: true });
    for (const [method, path, json] of [
      ["GET", "/v1/paths", undefined],
      ["POST", "/v1/paths", { ssid: "01A0", to: "GS0002.01B0", links: ["h:1"] }],
      ["DELETE", "/v1/paths/01A0/GS0002.01B0", undefined],
    ] as const) {
      const reply = await api.call(method, path, { json });
      expect(reply.status).toBe(503);
      expect(reply.body.code).toBe("PATHS_UNAVAILABLE");
      expect(reply.body.message).toMatch(/^Cannot .+ path.*: this API was started without/);
    }
  });
});
