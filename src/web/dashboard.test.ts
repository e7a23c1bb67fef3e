// Drives the dashboard in Debian's Chromium (through playwright-core) against a real API on
// 127.0.0.1: login, the system, volumes, paths and pairs views, a refused token. Saves a phone-width
// and a laptop-width screenshot of each view under a temp folder and prints their paths.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApiUnderTest,
  startApi,
  stopApis,
  TOKEN,
  TRACK_SIZE_BYTES,
} from "../testing/api-harness.js";
import { examplePair } from "../testing/memory-pairs.js";

const CHROMIUM_PATH = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];
const WIDTHS = { phone: { width: 390, height: 844 }, laptop: { width: 1280, height: 800 } };
const HEADS = 15;
const MIB = 1024 * 1024;
/** A view that has not drawn within 5 s is broken, not slow: it is a few small API calls. */
const VIEW_TIMEOUT_MS = 5_000;

const hasChromium = fs.existsSync(CHROMIUM_PATH);
if (!hasChromium) {
  console.warn(
    `\n!!! SKIPPING the dashboard tests: no Chromium at ${CHROMIUM_PATH} ` +
      "(apt-get install chromium) !!!\n",
  );
}

describe.skipIf(!hasChromium)("the dashboard in Chromium", () => {
  let api: ApiUnderTest;
  let context: BrowserContext;
  let userDataDir: string;
  const shotsDir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-dashboard-shots-"));
  const shots: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    api = await startApi();
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      headless: true,
    });
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir !== undefined) fs.rmSync(userDataDir, { recursive: true, force: true });
    await stopApis();
    if (shots.length > 0) console.log(`dashboard screenshots:\n  ${shots.join("\n  ")}`);
  });

  /** A fresh tab (so a fresh sessionStorage) that records script errors and CSP violations. */
  async function openPage(baseUrl: string = api.baseUrl): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      // The refusals the tests provoke show as 401s in the console; anything else is a fault.
      const text = message.text();
      if (message.type() === "error" && !text.includes("status of 401")) pageErrors.push(text);
    });
    await page.setViewportSize(WIDTHS.laptop);
    await page.goto(`${baseUrl}/`);
    return page;
  }

  async function logIn(page: Page, token: string): Promise<void> {
    await page.locator("#token").fill(token);
    await page.getByRole("button", { name: "Log in" }).click();
  }

  async function screenshots(page: Page, view: string): Promise<void> {
    for (const [name, size] of Object.entries(WIDTHS)) {
      await page.setViewportSize(size);
      const file = path.join(shotsDir, `${view}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
    }
    await page.setViewportSize(WIDTHS.laptop);
  }

  async function see(page: Page, text: string): Promise<void> {
    await page.getByText(text, { exact: false }).first().waitFor({ timeout: VIEW_TIMEOUT_MS });
  }

  /** Whether the page is wider than the window, so that it scrolls sideways. */
  async function overflows(page: Page): Promise<boolean> {
    return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  }

  it("refuses a wrong token with a visible message and stays at login", async () => {
    const page = await openPage();
    await logIn(page, "not-the-token");
    const message = page.locator("#message");
    await message.waitFor({ state: "visible", timeout: VIEW_TIMEOUT_MS });
    expect(await message.textContent()).toBe(
      "Cannot log in: the API refused this token. Check the token and try again.",
    );
    expect(await page.locator("#login").isVisible()).toBe(true);
    expect(await page.locator("#nav").isVisible()).toBe(false);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await screenshots(page, "login-refused");
    await page.close();
  });

  it("logs in with the right token and shows the system view with the serial", async () => {
    const page = await openPage();
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    expect(page.url()).toMatch(/#\/system$/);
    const view = await page.locator("#view").textContent();
    expect(view).toContain("01A0");
    expect(view).toContain("01A1");
    expect(view).toContain("Allocated (used)");
    expect(view).toContain("Host I/O over NBD");
    expect(await page.locator("#system-name").textContent()).toBe("GS0001");
    expect(await page.locator("#message").isVisible()).toBe(false);
    await screenshots(page, "system");
    await page.close();
  });

  it("shows host I/O rates sampled from the NBD counters", async () => {
    const page = await openPage();
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    // As the NBD server would count them: 10 reads of 1 MiB, then a wait for the next sample.
    for (let i = 0; i < 10; i += 1) api.metrics.request("read", 1024 * 1024, 0.001, true);
    const read = page.locator(".rates tr", { hasText: "read" });
    await read.locator("td", { hasText: "/s" }).first().waitFor({ timeout: 8_000 });
    const [, requests, bytes] = await read.locator("td").allTextContents();
    // 10 requests over one sampling interval of about 5 s.
    expect(Number.parseFloat(requests)).toBeGreaterThan(1);
    expect(Number.parseFloat(requests)).toBeLessThan(3);
    expect(bytes).toMatch(/^[0-9.]+ MiB\/s$/);
    await screenshots(page, "system-rates");
    await page.close();
  });

  it("shows a volume created and written through the API with its share and cylinder picture", async () => {
    const created = await api.call("POST", "/v1/volumes", {
      json: { volser: "WEB001", ssid: "01A1", cylinders: 100 },
    });
    expect(created.status, created.text).toBe(201);
    // Cylinders 0 and 1 whole, and 2 tracks of cylinder 50: 32 of 1,500 tracks.
    await api.store.write("WEB001", {
      offsetBytes: 0,
      data: Buffer.alloc(2 * HEADS * TRACK_SIZE_BYTES, 0x11),
    });
    await api.store.write("WEB001", {
      offsetBytes: 50 * HEADS * TRACK_SIZE_BYTES,
      data: Buffer.alloc(2 * TRACK_SIZE_BYTES, 0x22),
    });
    const page = await openPage();
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    await page.getByRole("link", { name: "Volumes" }).click();
    const row = page.locator("tr", { hasText: "WEB001" });
    await row.waitFor({ timeout: VIEW_TIMEOUT_MS });
    const cells = await row.locator("td").allInnerTexts();
    expect(cells).toEqual([
      "WEB001",
      "01A1",
      "3390-A",
      "100",
      "82.0 MiB",
      "2% (32 tracks)",
      "none",
    ]);
    await screenshots(page, "volumes");

    await row.getByRole("link", { name: "WEB001" }).click();
    await see(page, "Cylinders of WEB001 holding data");
    expect(page.url()).toMatch(/#\/volumes\/WEB001$/);
    const ranges = await page.locator(".ranges li").allInnerTexts();
    expect(ranges).toEqual([
      "cylinders 0-1: 100% mapped (30 of 30 tracks)",
      "cylinders 2-49: 0% mapped (0 of 720 tracks)",
      "cylinder 50: 13% mapped (2 of 15 tracks)",
      "cylinders 51-99: 0% mapped (0 of 735 tracks)",
    ]);
    expect(await page.locator("svg.cylinders rect").count()).toBe(100);
    expect(await page.locator("svg.cylinders rect.level-3").count()).toBe(2);
    expect(await page.locator("svg.cylinders rect.level-1").count()).toBe(1);
    await screenshots(page, "volume-detail");
    await page.close();
  });

  it("shows the seeded path with its state, and a link's failure and reason once it refreshes", async () => {
    const page = await openPage();
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    await page.getByRole("link", { name: "Paths" }).click();
    const path = page.locator("section.path", { hasText: "GS0002.01B0" });
    await path.waitFor({ timeout: VIEW_TIMEOUT_MS });
    expect(page.url()).toMatch(/#\/paths$/);
    expect(await path.locator("h2").textContent()).toBe("01A0 \u2192 GS0002.01B0");
    expect(await path.locator(".path-state").textContent()).toBe(
      "State: established (1 of 1 link established)",
    );
    const link = path.locator("tbody tr");
    expect(await link.locator("td").allInnerTexts()).toEqual([
      "127.0.0.1:8481",
      "established",
      "none",
      "2026-01-01 00:00:00 UTC",
    ]);
    await screenshots(page, "paths");

    // As the PathManager would report a remote that stopped listening.
    api.paths.setLink(
      { ssid: "01A0", to: "GS0002.01B0" },
      {
        address: "127.0.0.1:8481",
        state: "failed",
        reason: "refused",
        since: "2026-01-01T00:05:00.000Z",
        bytesSent: 0,
        bytesReceived: 0,
      },
    );
    await link.locator("td", { hasText: "refused" }).waitFor({ timeout: 8_000 });
    expect(await link.locator("td").allInnerTexts()).toEqual([
      "127.0.0.1:8481",
      "failed",
      "refused",
      "2026-01-01 00:05:00 UTC",
    ]);
    expect(await path.locator(".path-state").textContent()).toBe(
      "State: failed (0 of 1 link established)",
    );
    await screenshots(page, "paths-link-refused");
    await page.close();
  });

  it("lists pairs with their state in words and follows a copy from pending to duplex", async () => {
    // As the PairManager would report an initial copy 40% done, and a secondary cut off.
    api.pairs.setPair(
      examplePair("VOL001", {
        state: "pending",
        since: "2026-01-01T00:10:00.000Z",
        tracksOutOfSync: 90,
        rateBytesPerSecond: 2.5 * MIB,
        etaSeconds: 200,
      }),
    );
    api.pairs.setPair(
      examplePair("VOL002", {
        role: "secondary",
        primary: "GS0002.01B0.VOL902",
        secondary: "GS0001.01A0.VOL002",
        mode: "copy",
        state: "suspended",
        reason: "link failure",
        tracksOutOfSync: null,
      }),
    );
    const page = await openPage();
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    await page.getByRole("link", { name: "Pairs" }).click();
    const primary = page.locator("tbody tr", { hasText: "VOL001" });
    await primary.waitFor({ timeout: VIEW_TIMEOUT_MS });
    expect(page.url()).toMatch(/#\/pairs$/);
    expect(await primary.locator("td").allInnerTexts()).toEqual([
      "VOL001",
      "primary",
      "GS0001.01A0.VOL001",
      "GS0002.01B0.VOL001",
      "sync",
      "pending",
      "90 tracks; 40% copied",
      "2.5 MiB/s",
      "3 min 20 s",
      "2026-01-01 00:10:00 UTC",
    ]);
    expect(await primary.locator(".share-fill").getAttribute("style")).toBe("width: 40%;");
    const secondary = page.locator("tbody tr", { hasText: "VOL002" });
    expect(await secondary.locator("td").allInnerTexts()).toEqual([
      "VOL002",
      "secondary",
      "GS0002.01B0.VOL902",
      "GS0001.01A0.VOL002",
      "copy",
      "suspended (link failure)",
      "not known here (the primary counts them)",
      "idle",
      "none",
      "2026-01-01 00:00:00 UTC",
    ]);
    expect(await overflows(page)).toBe(false);
    await page.setViewportSize(WIDTHS.phone);
    expect(await overflows(page)).toBe(false);
    await page.setViewportSize(WIDTHS.laptop);
    await screenshots(page, "pairs");

    // The copy finishes: the next refresh shows the pair in sync, critical as it was made.
    api.pairs.setPair(examplePair("VOL001", { critical: true, since: "2026-01-01T00:20:00.000Z" }));
    await primary.locator("td", { hasText: "duplex" }).waitFor({ timeout: 8_000 });
    expect(await primary.locator("td").allInnerTexts()).toEqual([
      "VOL001",
      "primary",
      "GS0001.01A0.VOL001",
      "GS0002.01B0.VOL001",
      "sync, critical",
      "duplex",
      "0 tracks",
      "idle",
      "none",
      "2026-01-01 00:20:00 UTC",
    ]);
    await screenshots(page, "pairs-duplex");

    await page.getByRole("link", { name: "Volumes" }).click();
    await page.locator("h1", { hasText: "Volumes" }).waitFor({ timeout: VIEW_TIMEOUT_MS });
    const roles = await page.locator("td[data-label='Pair role']").allInnerTexts();
    const volsers = await page.locator("td[data-label='VOLSER']").allInnerTexts();
    const roleOf = Object.fromEntries(volsers.map((volser, i) => [volser, roles[i]]));
    expect(roleOf.VOL001).toBe("primary");
    expect(roleOf.VOL002).toBe("secondary");
    await page.close();
    await api.pairs.terminate("VOL001");
    await api.pairs.terminate("VOL002");
  });

  it("says how to establish a path or a pair when there is none", async () => {
    const empty = await startApi({ seeded: false });
    const page = await openPage(empty.baseUrl);
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    await page.getByRole("link", { name: "Paths" }).click();
    await see(page, "No paths.");
    expect(await page.locator("#view .empty").textContent()).toBe(
      "No paths. Establish one with " +
        "gsnap path establish --ssid ... --to SERIAL.SSID --link HOST:PORT",
    );
    expect(await page.locator("#view .empty code").count()).toBe(1);
    expect(await page.locator("section.path").count()).toBe(0);
    await screenshots(page, "paths-empty");

    await page.getByRole("link", { name: "Pairs" }).click();
    await see(page, "No pairs.");
    expect(await page.locator("#view .empty").textContent()).toBe(
      "No pairs. Establish one with gsnap pair establish VOLSER SERIAL.SSID.VOLSER --mode sync",
    );
    expect(await page.locator("#view table").count()).toBe(0);
    await screenshots(page, "pairs-empty");
    await page.close();
  });

  it("says jobs arrive with GSC", async () => {
    const page = await openPage();
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    await page.getByRole("link", { name: "Jobs" }).click();
    await see(page, "arrive with Global Snap Copy (GSC)");
    await screenshots(page, "jobs");
    await page.close();
  });

  it("returns to login with the reason when the API refuses the saved token", async () => {
    const page = await openPage();
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    await page.evaluate(() => sessionStorage.setItem("gsnap.token", "revoked"));
    await page.getByRole("link", { name: "Volumes" }).click();
    const message = page.locator("#message");
    await message.waitFor({ state: "visible", timeout: VIEW_TIMEOUT_MS });
    // Whichever of the view's requests the API refuses first names itself in the message.
    expect(await message.textContent()).toMatch(
      /^Logged out: Cannot .+: the bearer token is wrong\.$/,
    );
    expect(await page.locator("#login").isVisible()).toBe(true);
    expect(await page.locator("#view").textContent()).toBe("");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  });

  it("ran without script errors or blocked resources", () => {
    expect(pageErrors).toEqual([]);
  });
});
