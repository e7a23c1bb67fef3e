import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis } from "../testing/api-harness.js";
import { WEB_ASSETS, webDir } from "./web-routes.js";

afterEach(stopApis);

function urlOf(name: string): string {
  return name === "index.html" ? "/" : `/web/${name}`;
}

describe("web routes", () => {
  it.each(Object.entries(WEB_ASSETS))(
    "serve %s without a token, with its content type and a strict content security policy",
    async (name, contentType) => {
      const api = await startApi();
      const reply = await api.call("GET", urlOf(name), { token: null });
      expect(reply.status).toBe(200);
      expect(reply.headers.get("content-type")).toBe(contentType);
      expect(reply.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
      expect(reply.headers.get("x-content-type-options")).toBe("nosniff");
      expect(reply.text).toBe(fs.readFileSync(path.join(webDir(), name), "utf8"));
    },
  );

  it("serve every file of the dashboard, and every file the page and its modules load", () => {
    const dir = webDir();
    const files = fs.readdirSync(dir).filter((name) => !name.endsWith(".test.ts"));
    expect(Object.keys(WEB_ASSETS).sort()).toEqual(files.sort());
    for (const name of files) {
      const text = fs.readFileSync(path.join(dir, name), "utf8");
      const loaded = [
        ...text.matchAll(/(?:href|src)="\/web\/([^"]+)"/g),
        ...text.matchAll(/from "\.\/([^"]+)"/g),
      ].map((match) => match[1]);
      for (const asset of loaded)
        expect(WEB_ASSETS, `${name} loads ${asset}`).toHaveProperty([asset]);
    }
  });

  it("keep the data routes behind the token", async () => {
    const api = await startApi();
    expect((await api.call("GET", "/", { token: null })).status).toBe(200);
    expect((await api.call("GET", "/v1/volumes", { token: null })).status).toBe(401);
    expect((await api.call("GET", "/web/secret.json", { token: null })).status).toBe(401);
    expect((await api.call("GET", "/web/secret.json")).status).toBe(404);
  });

  it("stay out of the OpenAPI document, which describes the JSON API", async () => {
    const api = await startApi();
    const { paths } = (await api.call("GET", "/openapi.json")).body;
    expect(Object.keys(paths).filter((route) => route === "/" || route.startsWith("/web"))).toEqual(
      [],
    );
  });
});
