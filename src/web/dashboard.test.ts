// Drives the dashboard in Debian's Chromium (through playwright-core) against a real API on
// 127.0.0.1: login, the system (chunks local or in S3), volumes, paths, pairs and jobs views (a
// GSC started from the form and followed live), a refused token. Saves a phone-width and a
// laptop-width screenshot of each view under a temp folder and prints their paths.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GsnapError } from "../errors/gsnap-error.js";
import { checkGscRequest } from "../gsc/gsc-spec.js";
import { GSC_STEPS, type GscRequest, type GscStep, type StepRecord } from "../gsc/job-service.js";
import {
  type ApiUnderTest,
  startApi,
  stopApis,
  TOKEN,
  TRACK_SIZE_BYTES,
} from "../testing/api-harness.js";
import { exampleJob } from "../testing/memory-jobs.js";
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

/** A step record of 2026-01-01 from `started` to `ended` (HH:MM:SS.mmm). */
function step(number: GscStep, started: string, ended: string): StepRecord {
  return {
    step: number,
    name: GSC_STEPS[number],
    startedAt: `2026-01-01T${started}Z`,
    endedAt: `2026-01-01T${ended}Z`,
  };
}

/** "CODE: message" of the refusal the API's checks (the CLI's too) give `request`. */
function refusalOf(request: GscRequest): string {
  try {
    checkGscRequest(request);
  } catch (error) {
    if (error instanceof GsnapError) return `${error.code}: ${error.message}`;
    throw error;
  }
  throw new Error(`the request ${JSON.stringify(request)} was not refused`);
}

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
    // An asset the server does not send (a module missing from WEB_ASSETS) is a fault even when
    // the browser logs nothing for it.
    page.on("response", (response) => {
      const url = new URL(response.url());
      if (response.status() >= 400 && !url.pathname.startsWith("/v1/")) {
        pageErrors.push(`${response.status()} for ${url.pathname}`);
      }
    });
    page.on("console", (message) => {
      // The refusals the tests provoke show in the console: 401s, and the 400s of bad GSC
      // requests. Anything else is a fault.
      const text = message.text();
      const refusedGsc =
        text.includes("status of 400") && message.location().url.endsWith("/v1/gsc");
      if (message.type() === "error" && !text.includes("status of 401") && !refusedGsc) {
        pageErrors.push(text);
      }
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

  /** The system view's first facts (identity and chunks), by their terms. */
  async function systemFacts(page: Page): Promise<Record<string, string>> {
    const facts = page.locator("#view .facts").first();
    const terms = await facts.locator("dt").allInnerTexts();
    const values = await facts.locator("dd").allInnerTexts();
    return Object.fromEntries(terms.map((term, i) => [term, values[i]]));
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
    expect(await systemFacts(page)).toEqual({
      Serial: "GS0001",
      Version: "0.1.0-test",
      Volumes: "2",
      Chunks: "local segment files",
    });
    expect(await page.locator("#system-name").textContent()).toBe("GS0001");
    expect(await page.locator("#message").isVisible()).toBe(false);
    await screenshots(page, "system");
    await page.close();
  });

  it("shows chunks kept in S3 with their bucket, endpoint, staged segments and read cache", async () => {
    // As the object segment device would report them; the S3 path itself is tested for real
    // elsewhere. A long prefix, so that the phone width shows how the URL wraps.
    const s3 = await startApi({
      chunks: {
        kind: "s3",
        url: "s3://gsnap-chunks/datacenter-one/storage-system-GS0001/",
        endpoint: "http://127.0.0.1:7480",
        stats: () => ({
          puts: 0,
          putBytes: 0,
          gets: 0,
          getBytes: 0,
          deletes: 0,
          lists: 0,
          retries: 0,
          failures: 0,
          cacheHits: 0,
          cacheMisses: 0,
          cacheBytes: 5.5 * MIB,
          cacheEvictions: 0,
          stagedSegments: 3,
          stagedBytes: 40 * MIB,
          uploadFailures: 0,
        }),
      },
    });
    const page = await openPage(s3.baseUrl);
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    expect(await systemFacts(page)).toEqual({
      Serial: "GS0001",
      Version: "0.1.0-test",
      Volumes: "2",
      Chunks: "s3://gsnap-chunks/datacenter-one/storage-system-GS0001/ at http://127.0.0.1:7480",
      "Staged (not yet uploaded)": "3 segments, 40.0 MiB",
      "Read cache": "5.5 MiB",
    });
    for (const size of Object.values(WIDTHS)) {
      await page.setViewportSize(size);
      expect(await overflows(page)).toBe(false);
    }
    await screenshots(page, "system-s3");
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
    expect(bytes).toMatch(/^[0-9.]+ MB\/s$/);
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
        rateBytesPerSecond: 2.5e6,
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
      "90 of 150 tracks to go; 40% copied",
      "2.5 MB/s",
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

  it("marks a GSC job's intermediates and pair as the job's, links to the job, and counts the copy's own tracks", async () => {
    // Issue 17, as the user saw it: the job's P' is a 3390-A of 10,017 cylinders (150,255 tracks)
    // of which 1,318 differ from the target, 245 of them still to go. The target's S' (here a
    // volume of another system's job) and the pair are set as the API would report them.
    const gsc = await startApi();
    const job = { id: "J000042", serial: "GS0001" };
    await gsc.store.createVolume({ volser: "#PUXY9", ssid: "01A0", cylinders: 10_017, job });
    // Issue 16: a volume a copy left part old, part new says so under its VOLSER.
    await gsc.store.createVolume({ volser: "VOL900", ssid: "01A0", cylinders: 10 });
    await gsc.store.markInconsistent("VOL900", {
      pair: "GS0002.01B0.#PAB12",
      job: { id: "J000003", serial: "GS0002" },
      since: "2026-12-05T10:00:00.000Z",
    });
    await gsc.store.createVolume({
      volser: "#T0B1Q",
      ssid: "01A0",
      cylinders: 10,
      job: { id: "J000007", serial: "GS0002" },
    });
    gsc.jobs.setJob(
      exampleJob("J000042", {
        request: { source: "VOL001:0.0-10016.14", intermediate: "*", target: "GS0002.01B0.VOL900" },
        state: "running",
        step: 510,
        progress: {
          tracksTotal: 150_255,
          tracksDone: 150_255 - 245,
          tracksToSend: 1_318,
          tracksSent: 1_073,
          bytesTotal: 1_318 * TRACK_SIZE_BYTES,
          bytesDone: 1_073 * TRACK_SIZE_BYTES,
          rateBytesPerSecond: 30e6,
          etaSeconds: 1,
        },
      }),
    );
    gsc.pairs.setPair(
      examplePair("#PUXY9", {
        secondary: "GS0002.01B0.#T0B1Q",
        mode: "copy",
        state: "pending",
        tracksTotal: 150_255,
        tracksToCopy: 1_318,
        tracksOutOfSync: 245,
        rateBytesPerSecond: 30e6,
        etaSeconds: 1,
        job,
      }),
    );
    const page = await openPage(gsc.baseUrl);
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");

    // The math the views share with the CLI, in the page itself.
    const math = await page.evaluate(`Promise.all([
      import('/web/pairs-view.js').then((m) => m.copyProgress({ tracksToCopy: 1318, tracksOutOfSync: 245 })),
      import('/web/pairs-view.js').then((m) => m.copyProgress({ tracksToCopy: 1318, tracksOutOfSync: 1 })),
      import('/web/jobs-view.js').then((m) => m.jobProgress({ tracksTotal: 150255, tracksDone: 150010, tracksToSend: 1318, tracksSent: 1073 })),
      import('/web/jobs-view.js').then((m) => m.jobProgress({ tracksTotal: 150255, tracksDone: 150255, tracksToSend: 0, tracksSent: 0 })),
    ])`);
    expect(math).toEqual([
      { done: 1_073, total: 1_318, words: "245 of 1,318 tracks to go; 81% copied" },
      { done: 1_317, total: 1_318, words: "1 of 1,318 tracks to go; >99% copied" },
      { done: 1_073, total: 1_318, words: "1,073 of 1,318 tracks sent (81%)" },
      { done: 1, total: 1, words: "no track differed: none to send" },
    ]);

    await page.getByRole("link", { name: "Volumes" }).click();
    const intermediate = page.locator("tbody tr", { hasText: "#PUXY9" });
    await intermediate.waitFor({ timeout: VIEW_TIMEOUT_MS });
    expect(await intermediate.locator(".job-mark").textContent()).toBe(
      "intermediate of job J000042",
    );
    expect(await intermediate.locator("td").nth(3).textContent()).toBe("10,017");
    const foreign = page.locator("tbody tr", { hasText: "#T0B1Q" });
    expect(await foreign.locator(".job-mark").textContent()).toBe(
      "intermediate of job J000007 of system GS0002",
    );
    // Another system's job is named, not linked: this system cannot show it.
    expect(await foreign.locator(".job-mark a").count()).toBe(0);
    expect(await page.locator("tbody tr", { hasText: "VOL001" }).locator(".job-mark").count()).toBe(
      0,
    );
    const torn = page.locator("tbody tr", { hasText: "VOL900" }).locator(".inconsistent");
    expect(await torn.textContent()).toBe("inconsistent");
    expect(await torn.getAttribute("title")).toBe(
      "a copy from GS0002.01B0.#PAB12 stopped before it completed, since 2026-12-05T10:00:00.000Z",
    );
    expect(await intermediate.locator(".inconsistent").count()).toBe(0);
    for (const size of Object.values(WIDTHS)) {
      await page.setViewportSize(size);
      expect(await overflows(page)).toBe(false);
    }
    await page.setViewportSize(WIDTHS.laptop);
    await screenshots(page, "volumes-intermediates");

    // The mark selects the job in the jobs view.
    await intermediate.getByRole("link", { name: "J000042" }).click();
    await page.waitForURL(/#\/jobs\/J000042$/, { timeout: VIEW_TIMEOUT_MS });
    await see(page, "Job J000042");
    expect(await jobFacts(page)).toMatchObject({
      State: "running",
      Progress: "1,073 of 1,318 tracks sent (81%)",
    });
    const jobRow = page.locator("tbody tr", { hasText: "J000042" });
    expect(await jobRow.getByRole("link", { name: "J000042" }).getAttribute("aria-current")).toBe(
      "true",
    );

    await page.getByRole("link", { name: "Pairs" }).click();
    const pair = page.locator("tbody tr", { hasText: "#PUXY9" });
    await pair.waitFor({ timeout: VIEW_TIMEOUT_MS });
    const cells = await pair.locator("td").allInnerTexts();
    expect(cells[0]).toMatch(/^#PUXY9\s+copy of job J000042$/);
    expect(cells[6]).toBe("245 of 1,318 tracks to go; 81% copied");
    const width = await pair.locator(".share-fill").getAttribute("style");
    expect(Number.parseFloat(/width: ([\d.]+)%/.exec(width ?? "")?.[1] ?? "")).toBeCloseTo(
      (100 * 1_073) / 1_318,
      3,
    );
    await screenshots(page, "pairs-gsc");
    await pair.getByRole("link", { name: "J000042" }).click();
    await page.waitForURL(/#\/jobs\/J000042$/, { timeout: VIEW_TIMEOUT_MS });
    await page.close();
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

  /** The selected job's facts, by their terms. */
  async function jobFacts(page: Page): Promise<Record<string, string>> {
    const terms = await page.locator(".job-detail dt").allInnerTexts();
    const values = await page.locator(".job-detail dd").allInnerTexts();
    return Object.fromEntries(terms.map((term, i) => [term, values[i]]));
  }

  /** The selected job's timeline: "number name: status" for each step. */
  async function stepLines(page: Page): Promise<string[]> {
    const names = await page.locator(".timeline .step-name").allInnerTexts();
    const statuses = await page.locator(".timeline .step-status").allInnerTexts();
    return names.map((name, i) => `${name}: ${statuses[i]}`);
  }

  async function openJobs(page: Page): Promise<void> {
    await logIn(page, TOKEN);
    await see(page, "Storage system GS0001");
    await page.getByRole("link", { name: "Jobs" }).click();
    await see(page, "Start a global snap copy");
  }

  it("starts a GSC from the form and follows it live through its steps to OK", async () => {
    const page = await openPage();
    await openJobs(page);
    await see(page, "No jobs yet: start a global snap copy above.");
    // The page keeps its own list of the steps; it must be the API's.
    // A string, so that the test runner does not rewrite the page's import().
    const webSteps = await page.evaluate(
      "import('/web/jobs-view.js').then((module) => module.GSC_STEPS)",
    );
    expect(webSteps).toEqual(GSC_STEPS);

    await page.locator("#gsc-source").fill("VOL001:0.0-9.14");
    await page.locator("#gsc-target").fill("GS0002.01B0.VOL900");
    await page.locator("#gsc-bandwidth").fill("200");
    await page.getByRole("button", { name: "Start GSC" }).click();
    await page.waitForURL(/#\/jobs\/J\d{6}$/, { timeout: VIEW_TIMEOUT_MS });
    const id = page.url().split("/").at(-1) ?? "";
    await see(page, `Job ${id}`);
    expect(api.jobs.show(id).request).toEqual({
      source: "VOL001:0.0-9.14",
      intermediate: "*",
      target: "GS0002.01B0.VOL900",
      targetIntermediate: "*",
      bandwidthMBps: 200,
    });
    expect(await jobFacts(page)).toMatchObject({
      Request: "VOL001:0.0-9.14, *, GS0002.01B0.VOL900, *",
      State: "queued",
      Step: "500 receive",
      Progress: "0 of 150 tracks (0%)",
      Result: "none yet",
    });
    expect(await stepLines(page)).toEqual(
      Object.entries(GSC_STEPS).map(([step, name]) => `${step} ${name}: not reached`),
    );
    await expect.poll(() => api.jobs.watcherCount(id), { timeout: VIEW_TIMEOUT_MS }).toBe(1);

    // As the JobManager would move it: step 500 recorded as it queues the job, the next steps,
    // then the transfer half done.
    const now = new Date().toISOString();
    api.jobs.setJob({
      ...api.jobs.show(id),
      steps: [{ step: 500, name: "receive", startedAt: now, endedAt: now, note: "received" }],
    });
    api.jobs.advance(id, { step: 502, note: "checked VOL001 and GS0002.01B0.VOL900" });
    api.jobs.advance(id, { step: 506, note: "snapped 150 tracks into #P0001" });
    api.jobs.advance(id, { step: 508 });
    api.jobs.advance(id, {
      step: 510,
      progress: { tracksDone: 75, bytesDone: 75 * TRACK_SIZE_BYTES },
    });
    api.jobs.advance(id, { progress: { rateBytesPerSecond: 2.5e6, etaSeconds: 30 } });
    const detail = page.locator(".job-detail");
    await detail.getByText("75 of 150 tracks (50%)").waitFor({ timeout: VIEW_TIMEOUT_MS });
    await detail.getByText("2.5 MB/s").waitFor({ timeout: VIEW_TIMEOUT_MS });
    expect(await jobFacts(page)).toMatchObject({
      State: "running",
      Step: "510 transfer",
      Rate: "2.5 MB/s",
      ETA: "30 s",
      Ended: "not yet",
    });
    const lines = await stepLines(page);
    expect(lines[0]).toMatch(/^500 receive: done in \d+ ms$/);
    expect(lines[4]).toBe("510 transfer: running");
    expect(lines[5]).toBe("512 receive status: not reached");
    expect(await page.locator(".step-note").allInnerTexts()).toEqual([
      "received",
      "checked VOL001 and GS0002.01B0.VOL900",
      "snapped 150 tracks into #P0001",
    ]);
    const row = page.locator("tbody tr", { hasText: id });
    expect(await row.locator("td").allInnerTexts()).toEqual([
      id,
      "VOL001:0.0-9.14, *, GS0002.01B0.VOL900, *",
      "running",
      "510 transfer",
      "75 of 150 tracks (50%)",
      "2.5 MB/s",
      "30 s",
      "none yet",
    ]);
    expect(await row.getByRole("link", { name: id }).getAttribute("aria-current")).toBe("true");
    for (const size of Object.values(WIDTHS)) {
      await page.setViewportSize(size);
      expect(await overflows(page)).toBe(false);
    }
    await screenshots(page, "jobs-running");

    // Leaving the view stops the stream; choosing the job again follows it again.
    await page.getByRole("link", { name: "Pairs" }).click();
    await expect.poll(() => api.jobs.watcherCount(id), { timeout: VIEW_TIMEOUT_MS }).toBe(0);
    await page.getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("link", { name: id }).click();
    await expect.poll(() => api.jobs.watcherCount(id), { timeout: VIEW_TIMEOUT_MS }).toBe(1);

    api.jobs.advance(id, {
      step: 512,
      progress: { tracksDone: 150, bytesDone: 150 * TRACK_SIZE_BYTES, etaSeconds: null },
    });
    for (const step of [514, 516, 518, 520, 522, 524] as const) api.jobs.advance(id, { step });
    api.jobs.advance(id, {
      state: "succeeded",
      resultCode: "OK",
      progress: { rateBytesPerSecond: 0 },
    });
    await detail.locator(".result", { hasText: "OK" }).waitFor({ timeout: VIEW_TIMEOUT_MS });
    expect(await jobFacts(page)).toMatchObject({
      State: "succeeded",
      Step: "524 report result",
      Progress: "150 of 150 tracks (100%)",
      Rate: "idle",
      ETA: "none",
      Result: "OK",
    });
    // The test itself paces the steps: on a busy machine one may last a second or more.
    for (const line of await stepLines(page)) expect(line).toMatch(/: done in \d+(\.\d+)? m?s$/);
    await see(page, `Job ${id} has ended.`);
    // The API ends the stream after the job's end.
    await expect.poll(() => api.jobs.watcherCount(id), { timeout: VIEW_TIMEOUT_MS }).toBe(0);
    await screenshots(page, "jobs");
    await page.close();
  });

  it("shows the API's refusal of a bad GSC request as the CLI words it, and starts nothing", async () => {
    const page = await openPage();
    await openJobs(page);
    const jobsBefore = api.jobs.list().length;
    const request = {
      source: "VOL001:0.0-9.14",
      intermediate: "*",
      target: "GS0002.01B0.VOL900:0.0-9.14",
    };
    await page.locator("#gsc-source").fill(request.source);
    await page.locator("#gsc-target").fill(request.target);
    await page.locator("#gsc-targetIntermediate").fill("");
    await page.getByRole("button", { name: "Start GSC" }).click();
    const error = page.locator(".gsc-form .error");
    await error.waitFor({ state: "visible", timeout: VIEW_TIMEOUT_MS });
    expect(await error.textContent()).toBe(refusalOf(request));
    expect(await error.textContent()).toMatch(/^GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE: Cannot /);

    await page.locator("#gsc-target").fill("GS0002.01B0.VOL900");
    await page.locator("#gsc-bandwidth").fill("0");
    await page.getByRole("button", { name: "Start GSC" }).click();
    await error.getByText("REQUEST_INVALID").waitFor({ timeout: VIEW_TIMEOUT_MS });
    expect(await error.textContent()).toBe(
      refusalOf({ ...request, target: "GS0002.01B0.VOL900", bandwidthMBps: 0 }),
    );
    expect(page.url()).toMatch(/#\/jobs$/);
    expect(api.jobs.list().length).toBe(jobsBefore);
    await screenshots(page, "jobs-refused");
    await page.close();
  });

  it("shows a failed job's result code and message and the step it failed in", async () => {
    api.jobs.setJob(
      exampleJob("J000900", {
        state: "failed",
        step: 510,
        steps: [
          step(500, "00:00:00.000", "00:00:00.004"),
          step(502, "00:00:00.004", "00:00:00.020"),
          { ...step(506, "00:00:00.020", "00:00:01.500"), note: "snapped 150 tracks into #P0001" },
          step(508, "00:00:01.500", "00:00:02.000"),
          step(510, "00:00:02.000", "00:01:07.000"),
        ],
        progress: { ...exampleJob("J000900").progress, tracksDone: 40 },
        endedAt: "2026-01-01T00:01:07.000Z",
        resultCode: "GSC_TRANSFER_FAILED",
        resultMessage:
          "Cannot copy VOL001:0.0-9.14 to GS0002.01B0.VOL900: the link to GS0002.01B0 failed " +
          "after 40 of 150 tracks; start the GSC again",
      }),
    );
    const page = await openPage();
    await openJobs(page);
    await page.getByRole("link", { name: "J000900" }).click();
    await see(page, "Job J000900");
    const result =
      "GSC_TRANSFER_FAILED: Cannot copy VOL001:0.0-9.14 to GS0002.01B0.VOL900: the link to " +
      "GS0002.01B0 failed after 40 of 150 tracks; start the GSC again";
    expect(await jobFacts(page)).toMatchObject({
      State: "failed",
      Step: "510 transfer",
      Progress: "40 of 150 tracks (27%)",
      ETA: "none",
      Ended: "2026-01-01 00:01:07 UTC",
      Result: result,
    });
    expect(await stepLines(page)).toEqual([
      "500 receive: done in 4 ms",
      "502 verify: done in 16 ms",
      "506 snap source to intermediate: done in 1 s",
      "508 establish pair: done in 500 ms",
      "510 transfer: failed after 1 min 5 s",
      "512 receive status: not reached",
      "514 check success: not reached",
      "516 target intermediate?: not reached",
      "518 send snap to target: not reached",
      "520 receive snap status: not reached",
      "522 terminate pair: not reached",
      "524 report result: not reached",
    ]);
    const row = page.locator("tbody tr", { hasText: "J000900" });
    expect(await row.locator("td").last().textContent()).toBe(result);
    // An ended job has nothing more to say: it is not followed.
    expect(api.jobs.watcherCount("J000900")).toBe(0);
    await screenshots(page, "jobs-failed");
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
