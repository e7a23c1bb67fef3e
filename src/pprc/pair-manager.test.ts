// Pairs between two storage systems in this process over real link sockets: establish and the
// initial copy, sync writes, suspend and resume with the out-of-sync bitmap, restarts, and the
// refusals of both sides.

import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { codeOf, codeOfAsync } from "../testing/error-code.js";
import {
  expectIdentical,
  type PairSystems,
  PRIMARY_SERIAL,
  SECONDARY_SERIAL,
  startPairSystems,
  startTestSystem,
  waitFor,
} from "../testing/pair-systems.js";

const CYLINDERS = 4;
const TRACK = 57_344;
const TRACKS = CYLINDERS * 15;
const SECONDARY = `${SECONDARY_SERIAL}.01B0.SEC001`;

const whole = { offsetBytes: 0, lengthBytes: TRACKS * TRACK };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function systems(options: { syncTimeoutMs?: number } = {}): Promise<PairSystems> {
  const both = await startPairSystems(options);
  cleanups.push(
    () => both.secondary.stop(),
    () => both.primary.stop(),
  );
  await both.primary.store.createVolume({ volser: "PRI001", ssid: "01A0", cylinders: CYLINDERS });
  await both.secondary.store.createVolume({ volser: "SEC001", ssid: "01B0", cylinders: CYLINDERS });
  return both;
}

describe("pairs between two systems", () => {
  it("establishes a copy pair, copies mapped tracks and zero records, and ends duplex and identical", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    await primary.store.write("PRI001", { offsetBytes: 3 * TRACK, data: randomBytes(10 * TRACK) });
    await primary.store.write("PRI001", { offsetBytes: 40 * TRACK + 100, data: randomBytes(5000) });
    // Stale data on the secondary where the primary has none: the copy must zero it.
    await secondary.store.write("SEC001", { offsetBytes: 50 * TRACK, data: randomBytes(TRACK) });
    const started = await primary.pairs.establish({
      volser: "PRI001",
      secondary: SECONDARY,
      mode: "copy",
    });
    expect(started).toMatchObject({ role: "primary", state: "pending", tracksTotal: TRACKS });
    const done = await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    expect(done).toMatchObject({ tracksOutOfSync: 0, bytesSent: 11 * TRACK });
    await expectIdentical(both);
    expect(secondary.store.showVolume("SEC001").allocatedTracks).toBe(11);
    // The secondary hears of duplex just after the primary enters it.
    await waitFor(
      () => secondary.pairs.show("SEC001"),
      (info) => info.state === "duplex",
    );
    expect(secondary.pairs.show("SEC001")).toMatchObject({
      role: "secondary",
      primary: `${PRIMARY_SERIAL}.01A0.PRI001`,
      secondary: SECONDARY,
      state: "duplex",
      tracksOutOfSync: null,
    });
  });

  it("mirrors sync writes before they complete, and the secondary refuses host writes", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    const data = randomBytes(4096);
    await primary.host.write("PRI001", { offsetBytes: 7 * TRACK + 8192, data });
    // Acknowledged: the secondary has it now, with no wait.
    const there = await secondary.store.read("SEC001", {
      offsetBytes: 7 * TRACK + 8192,
      lengthBytes: 4096,
    });
    expect(there.equals(data)).toBe(true);
    await primary.host.zero("PRI001", { offsetBytes: 7 * TRACK, lengthBytes: TRACK });
    await expectIdentical(both);
    expect(primary.pairs.show("PRI001")).toMatchObject({ state: "duplex", tracksOutOfSync: 0 });
    expect(await codeOfAsync(() => secondary.host.write("SEC001", { offsetBytes: 0, data }))).toBe(
      "VOLUME_READ_ONLY",
    );
    expect(
      secondary.host.listVolumes().find((volume) => volume.volser === "SEC001")?.readOnly,
    ).toBe(true);
  });

  it("records writes while suspended and resume sends only those tracks", async () => {
    const both = await systems();
    const { primary } = both;
    await primary.store.write("PRI001", { offsetBytes: 0, data: randomBytes(TRACKS * TRACK) });
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
    const first = await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    expect(await primary.pairs.suspend("PRI001")).toMatchObject({
      state: "suspended",
      reason: "operator",
    });
    expect(both.secondary.pairs.show("SEC001")).toMatchObject({ state: "suspended" });
    await primary.host.write("PRI001", { offsetBytes: 5 * TRACK + 10, data: randomBytes(100) });
    await primary.host.write("PRI001", { offsetBytes: 20 * TRACK, data: randomBytes(2 * TRACK) });
    expect(primary.pairs.show("PRI001").tracksOutOfSync).toBe(3);
    await primary.pairs.resume("PRI001");
    const resumed = await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    expect(resumed.bytesSent - first.bytesSent).toBe(3 * TRACK);
    await expectIdentical(both);
  });

  it("refuses what cannot be paired, changing nothing", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    await secondary.store.createVolume({
      volser: "SEC002",
      ssid: "01B0",
      cylinders: CYLINDERS + 1,
    });
    const establish = (volser: string, target: string) =>
      codeOfAsync(() => primary.pairs.establish({ volser, secondary: target, mode: "copy" }));
    expect(await establish("NOPE01", SECONDARY)).toBe("VOLUME_NOT_FOUND");
    expect(await establish("PRI001", `${SECONDARY_SERIAL}.01B0.NOPE01`)).toBe("VOLUME_NOT_FOUND");
    expect(await establish("PRI001", `${SECONDARY_SERIAL}.01B0.SEC002`)).toBe(
      "PAIR_GEOMETRY_MISMATCH",
    );
    expect(await establish("PRI001", `${SECONDARY_SERIAL}.01B1.SEC001`)).toBe("PATH_NOT_FOUND");
    expect(await establish("PRI001", "0000000009.01B0.SEC001")).toBe("PATH_NOT_FOUND");
    expect(await establish("PRI001", "not-a-volume")).toBe("REQUEST_INVALID");
    expect(
      await codeOfAsync(() =>
        primary.pairs.establish({
          volser: "PRI001",
          secondary: SECONDARY,
          mode: "copy",
          critical: true,
        }),
      ),
    ).toBe("REQUEST_INVALID");
    expect(primary.pairs.list()).toEqual([]);
    expect(secondary.pairs.list()).toEqual([]);
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "copy" });
    expect(await establish("PRI001", SECONDARY)).toBe("PAIR_EXISTS");
    await primary.store.createVolume({ volser: "PRI002", ssid: "01A0", cylinders: CYLINDERS });
    expect(await establish("PRI002", SECONDARY)).toBe("PAIR_EXISTS");
    expect(codeOf(() => primary.pairs.show("PRI002"))).toBe("PAIR_NOT_FOUND");
    expect(await codeOfAsync(() => secondary.pairs.suspend("SEC001"))).toBe("PAIR_STATE_INVALID");
    expect(await codeOfAsync(() => primary.pairs.resume("PRI001"))).toBe("PAIR_STATE_INVALID");
    expect(await codeOfAsync(() => primary.pairs.terminate("PRI002"))).toBe("PAIR_NOT_FOUND");
  });

  it("terminates on both sides: the secondary takes host writes again", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "copy" });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    await primary.pairs.terminate("PRI001");
    expect(primary.pairs.list()).toEqual([]);
    expect(secondary.pairs.list()).toEqual([]);
    await secondary.host.write("SEC001", { offsetBytes: 0, data: randomBytes(512) });
  });

  it("suspends a sync pair on link failure and goes on locally; a critical pair fails host writes instead", async () => {
    const both = await systems({ syncTimeoutMs: 300 });
    const { primary, secondary } = both;
    await primary.store.createVolume({ volser: "PRI002", ssid: "01A0", cylinders: CYLINDERS });
    await secondary.store.createVolume({ volser: "SEC002", ssid: "01B0", cylinders: CYLINDERS });
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
    await primary.pairs.establish({
      volser: "PRI002",
      secondary: `${SECONDARY_SERIAL}.01B0.SEC002`,
      mode: "sync",
      critical: true,
    });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    await waitFor(
      () => primary.pairs.show("PRI002"),
      (info) => info.state === "duplex",
    );
    await secondary.stop();
    await primary.host.write("PRI001", { offsetBytes: TRACK, data: randomBytes(4096) });
    expect(primary.pairs.show("PRI001")).toMatchObject({
      state: "suspended",
      reason: "link failure",
      tracksOutOfSync: 1,
    });
    expect(
      await codeOfAsync(() =>
        primary.host.write("PRI002", { offsetBytes: 0, data: randomBytes(4096) }),
      ),
    ).toBe("PAIR_SUSPENDED");
    expect(primary.pairs.show("PRI002")).toMatchObject({
      state: "suspended",
      reason: "link failure",
    });
  });

  it("suspends a sync pair with secondary error when the secondary refuses a write, and goes on locally", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    await secondary.store.setReadOnly("SEC001", true);
    const data = randomBytes(4096);
    await primary.host.write("PRI001", { offsetBytes: 2 * TRACK, data });
    expect(primary.pairs.show("PRI001")).toMatchObject({
      state: "suspended",
      reason: "secondary error",
      tracksOutOfSync: 1,
    });
    const here = await primary.store.read("PRI001", { offsetBytes: 2 * TRACK, lengthBytes: 4096 });
    expect(here.equals(data)).toBe(true);
  });

  it("keeps the bitmap across a restart of the primary and resumes to identical", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    await primary.pairs.suspend("PRI001");
    await primary.host.write("PRI001", { offsetBytes: 9 * TRACK, data: randomBytes(TRACK) });
    await primary.host.flush();
    await primary.stop();
    const again = await startTestSystem({
      serial: PRIMARY_SERIAL,
      ssid: "01A0",
      dataDir: primary.dataDir,
    });
    cleanups.push(() => again.stop());
    expect(again.pairs.show("PRI001")).toMatchObject({ state: "suspended", tracksOutOfSync: 1 });
    await waitFor(
      () => again.pairs.show("PRI001"),
      () => again.paths.list()[0]?.state === "established",
    );
    await again.pairs.resume("PRI001");
    const resumed = await waitFor(
      () => again.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    expect(resumed.bytesSent).toBe(TRACK);
    const here = await again.store.read("PRI001", whole);
    expect((await secondary.store.read("SEC001", whole)).equals(here)).toBe(true);
  });
});
