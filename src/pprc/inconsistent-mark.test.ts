// The inconsistent mark (DRBD's "Inconsistent"): a pair's secondary that took tracks before the
// pair reached duplex is part old, part new. It is marked so, durably, before the first of them is
// stored, with the pair (and the GSC job) whose copy it was; the mark outlives a suspend, a
// terminate and a restart; a copy that reaches duplex clears it; a sync pair's writes while duplex
// never set it. Two storage systems in this process over real link sockets.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { exportOf } from "../nbd/export-directory.js";
import { Store } from "../store/store.js";
import { gate } from "../testing/gate.js";
import { gscSystems, S } from "../testing/gsc-systems.js";
import {
  type PairSystems,
  PRIMARY_SERIAL,
  SECONDARY_SERIAL,
  startPairSystems,
  waitFor,
} from "../testing/pair-systems.js";

const CYLINDERS = 20;
const TRACK = 57_344;
const TRACKS = CYLINDERS * 15;
const SECONDARY = `${SECONDARY_SERIAL}.01B0.SEC001`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function twoVolumes(): Promise<PairSystems> {
  const both = await startPairSystems();
  cleanups.push(
    () => both.secondary.stop(),
    () => both.primary.stop(),
  );
  await both.primary.store.createVolume({ volser: "PRI001", ssid: "01A0", cylinders: CYLINDERS });
  await both.secondary.store.createVolume({ volser: "SEC001", ssid: "01B0", cylinders: CYLINDERS });
  await both.primary.store.write("PRI001", { offsetBytes: 0, data: randomBytes(TRACKS * TRACK) });
  return both;
}

function markOf(system: { store: Store }, volser: string) {
  return system.store.listVolumes().find((volume) => volume.volser === volser)?.inconsistent;
}

/** SEC001's NBD export description, as nbdinfo shows it. */
function exportedDescription(system: PairSystems["secondary"]): string {
  const volume = system.host.listVolumes().find((v) => v.volser === "SEC001");
  if (volume === undefined) throw new Error("SEC001 is gone");
  return exportOf(volume).description;
}

describe("the inconsistent mark", () => {
  it("marks a copy's secondary from its first track until duplex, through suspend and resume", async () => {
    const { primary, secondary } = await twoVolumes();
    expect(markOf(secondary, "SEC001")).toBeUndefined();
    // 1 MB/s: the 17 MB copy is still running when the test looks.
    await primary.pairs.establish(
      { volser: "PRI001", secondary: SECONDARY, mode: "copy" },
      { bytesPerSecond: 1_000_000 },
    );
    const mark = await waitFor(
      () => markOf(secondary, "SEC001"),
      (found) => found !== undefined,
    );
    expect(mark).toEqual({ pair: `${PRIMARY_SERIAL}.01A0.PRI001`, since: expect.any(String) });
    expect(primary.pairs.show("PRI001").state).toBe("pending");
    // Hosts see it in the export's description (and may still read).
    expect(exportedDescription(secondary)).toContain(
      `INCONSISTENT: a copy from ${PRIMARY_SERIAL}.01A0.PRI001`,
    );

    await primary.pairs.suspend("PRI001");
    expect(markOf(secondary, "SEC001")).toEqual(mark);
    // The resumed copy keeps the first mark's time, and clears it once duplex.
    await primary.pairs.resume("PRI001");
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
      60_000,
    );
    await waitFor(
      () => markOf(secondary, "SEC001"),
      (found) => found === undefined,
    );
    expect(exportedDescription(secondary)).not.toContain("INCONSISTENT");
  }, 90_000);

  it("keeps an operator's suspend that comes while the secondary still clears the mark of duplex", async () => {
    const { primary, secondary } = await twoVolumes();
    // The secondary's clearing of the mark at duplex waits until the test opens the gate.
    const clearing = gate();
    const markInconsistent = secondary.store.markInconsistent.bind(secondary.store);
    secondary.store.markInconsistent = async (volser, mark) => {
      if (mark === undefined) await clearing.until;
      return markInconsistent(volser, mark);
    };
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
    );
    await waitFor(
      () => secondary.pairs.show("SEC001"),
      (info) => info.state === "duplex",
    );
    await primary.pairs.suspend("PRI001");
    expect(secondary.pairs.show("SEC001")).toMatchObject({
      state: "suspended",
      reason: "operator",
    });
    clearing.open();
    await waitFor(
      () => markOf(secondary, "SEC001"),
      (found) => found === undefined,
    );
    // The duplex message, answered last, did not undo the suspend that came after it.
    expect(secondary.pairs.show("SEC001")).toMatchObject({
      state: "suspended",
      reason: "operator",
    });
  });

  it("keeps the mark of a copy terminated part way, and a later copy that completes clears it", async () => {
    const { primary, secondary } = await twoVolumes();
    await primary.pairs.establish(
      { volser: "PRI001", secondary: SECONDARY, mode: "copy" },
      { bytesPerSecond: 1_000_000 },
    );
    await waitFor(
      () => markOf(secondary, "SEC001"),
      (found) => found !== undefined,
    );
    await primary.pairs.terminate("PRI001");
    expect(secondary.pairs.list()).toEqual([]);
    expect(markOf(secondary, "SEC001")?.pair).toBe(`${PRIMARY_SERIAL}.01A0.PRI001`);

    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "copy" });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
      60_000,
    );
    await waitFor(
      () => markOf(secondary, "SEC001"),
      (found) => found === undefined,
    );
  }, 90_000);

  it("never marks a sync pair's secondary for the host writes it mirrors while duplex", async () => {
    const { primary, secondary } = await twoVolumes();
    await primary.pairs.establish({ volser: "PRI001", secondary: SECONDARY, mode: "sync" });
    await waitFor(
      () => primary.pairs.show("PRI001"),
      (info) => info.state === "duplex",
      60_000,
    );
    await waitFor(
      () => markOf(secondary, "SEC001"),
      (found) => found === undefined,
    );
    await primary.host.write("PRI001", { offsetBytes: 3 * TRACK + 100, data: randomBytes(4096) });
    await primary.host.write("PRI001", { offsetBytes: 0, data: randomBytes(2 * TRACK) });
    expect(secondary.pairs.show("SEC001").state).toBe("duplex");
    expect(markOf(secondary, "SEC001")).toBeUndefined();
  }, 90_000);

  it("names the GSC job whose copy stopped part way into S (no S'), and says so in the job's result", async () => {
    const both = await gscSystems();
    const { primary, secondary } = both;
    const started = await primary.jobs.start({
      source: "VOL001:0.0-19.14",
      intermediate: "*",
      target: `${S}.VOL900`,
      bandwidthMBps: 1,
    });
    const mark = await waitFor(
      () => markOf(secondary, "VOL900"),
      (found) => found !== undefined,
    );
    expect(mark?.job).toEqual({ id: started.id, serial: PRIMARY_SERIAL });
    const cancelled = await primary.jobs.cancel(started.id);
    expect(cancelled.state).toBe("cancelled");
    expect(cancelled.resultMessage).toContain(
      `the target ${SECONDARY_SERIAL}.01B0.VOL900 is left inconsistent`,
    );
    expect(markOf(secondary, "VOL900")?.job).toEqual({ id: started.id, serial: PRIMARY_SERIAL });

    // The same GSC run through clears it.
    const again = await primary.jobs.start({
      source: "VOL001:0.0-19.14",
      intermediate: "*",
      target: `${S}.VOL900`,
    });
    expect((await primary.jobs.wait(again.id)).state).toBe("succeeded");
    expect(markOf(secondary, "VOL900")).toBeUndefined();
  }, 90_000);
});

describe("Store.markInconsistent", () => {
  it("is durable, keeps the first mark's time, survives a reopen and is cleared by undefined", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-mark-"));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    let store = await Store.open(dir);
    await store.createVolume({ volser: "VOL001", ssid: "0001", cylinders: 1 });
    const first = { pair: "0000000001.01A0.PRI001", since: "2026-12-05T10:00:00.000Z" };
    await store.markInconsistent("VOL001", first);
    await store.markInconsistent("VOL001", { ...first, since: "2026-12-05T11:00:00.000Z" });
    await store.close();
    store = await Store.open(dir);
    expect(store.showVolume("VOL001").inconsistent).toEqual(first);
    await store.markInconsistent("VOL001", undefined);
    expect(store.showVolume("VOL001").inconsistent).toBeUndefined();
    await expect(store.markInconsistent("NOSUCH", first)).rejects.toMatchObject({
      code: "VOLUME_NOT_FOUND",
    });
    await store.close();
  });
});
