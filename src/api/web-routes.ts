// Serves the dashboard (src/web/): the page at `/` and its few assets under `/web/`, read once at
// start and sent from memory. These routes are public: the page and its scripts hold no data, and
// the data routes they call still need the bearer token. They are hidden from the OpenAPI
// document, which describes the JSON API only.
//
// The assets are plain HTML, CSS and ES module JavaScript, served from the source tree: there is
// no bundler, and tsc copies nothing but TypeScript, so from dist/src/api/ they are found at
// ../../../src/web/, and from src/api/ (tests) at ../web/.

import assert from "node:assert";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

/** Every asset the page loads, with its content type; nothing else under src/web/ is served. */
export const WEB_ASSETS: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
  "dashboard.js": "text/javascript; charset=utf-8",
  "api-client.js": "text/javascript; charset=utf-8",
  "dom.js": "text/javascript; charset=utf-8",
  "job-mark.js": "text/javascript; charset=utf-8",
  "jobs-view.js": "text/javascript; charset=utf-8",
  "paths-view.js": "text/javascript; charset=utf-8",
  "pairs-view.js": "text/javascript; charset=utf-8",
  "system-view.js": "text/javascript; charset=utf-8",
  "volumes-view.js": "text/javascript; charset=utf-8",
};

/**
 * Only our own files run and load: no inline script or style, no other origin. A favicon as a
 * data: URL keeps the browser from asking for /favicon.ico, which would need the token.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; " +
  "frame-ancestors 'none'; form-action 'self'";

const WEB_DIR_CANDIDATES = ["../web/", "../../../src/web/"];

/** The folder holding the dashboard's assets, from the source tree or the built package. */
export function webDir(): string {
  for (const candidate of WEB_DIR_CANDIDATES) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (fs.existsSync(path.join(dir, "index.html"))) return dir;
  }
  assert.fail(`the dashboard's assets are missing: no index.html in ${WEB_DIR_CANDIDATES}`);
}

export function webRoutes(app: FastifyInstance, dir: string = webDir()): void {
  for (const [name, contentType] of Object.entries(WEB_ASSETS)) {
    const body = fs.readFileSync(path.join(dir, name));
    const url = name === "index.html" ? "/" : `/web/${name}`;
    app.get(
      url,
      {
        config: { action: `show the dashboard's ${name}`, public: true },
        schema: { hide: true },
      },
      async (_request, reply) =>
        reply
          .type(contentType)
          .header("content-security-policy", CONTENT_SECURITY_POLICY)
          .header("x-content-type-options", "nosniff")
          // The assets change with the package; revalidating each load keeps an upgraded server
          // from running an old script against a new API.
          .header("cache-control", "no-cache")
          .send(body),
    );
  }
}
