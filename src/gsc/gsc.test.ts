// Global snap copy between two storage systems in this process over real link sockets: the
// happy paths with and without S', with named and allocated intermediates and several extents;
// the repeated (incremental) copy; a host write to P after the internal snap; the refusals of
// verification; cancel; and that a job leaves no pair, reservation or intermediate behind.

import { randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { codeOfAsync } from "../testing/error-code.js";
import { gate } from "../testing/gate.js";
import {
  CYLINDERS,
  expectClean,
  S,
  gscSystems as systems,
  TRACK,
  TRACKS,
  tracks,
} from "../testing/gsc-systems.js";
import { SECONDARY_SERIAL } from "../testing/pair-systems.js";

describe("global snap copy", () => {
  it("copies P's extents to S at the same addresses through an allocated P', leaving the rest of S", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    const before = await secondary.store.read("VOL900", tracks(0, TRACKS));
    const started = await primary.jobs.start({
      source: "VOL001:1.0-3.14+10.0-10.14",
      intermediate: "*",
      target: `${S}.VOL900`,
    });
    expect(started.state).toMatch(/queued|running/);
    const job = await primary.jobs.wait(started.id);
    expect(job).toMatchObject({ state: "succeeded", resultCode: "OK" });
    expect(job.steps.map((step) => step.step)).toEqual([
      500, 502, 506, 508, 510, 512, 514, 516, 522, 524,
    ]);
    for (const [first, count] of [
      [15, 45],
      [150, 15],
    ]) {
      const there = await secondary.store.read("VOL900", tracks(first, count));
      expect(there.equals(await primary.store.read("VOL001", tracks(first, count)))).toBe(true);
    }
    const after = await secondary.store.read("VOL900", tracks(0, TRACKS));
    expect(after.subarray(0, 15 * TRACK).equals(before.subarray(0, 15 * TRACK))).toBe(true);
    expect(
      after.subarray(60 * TRACK, 150 * TRACK).equals(before.subarray(60 * TRACK, 150 * TRACK)),
    ).toBe(true);
    expect(job.progress).toMatchObject({ tracksTotal: 60, tracksDone: 60 });
    expectClean(both, job);
  });

  it("with S' copies into the target extent at another address in one step, then sends only what changed", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    const request = {
      source: "VOL001:0.0-1.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-11.14`,
      targetIntermediate: "*",
    };
    const first = await primary.jobs.wait((await primary.jobs.start(request)).id);
    expect(first).toMatchObject({ state: "succeeded" });
    expect(first.steps.map((step) => step.step)).toContain(518);
    const source = await primary.store.read("VOL001", tracks(0, 30));
    expect((await secondary.store.read("VOL900", tracks(150, 30))).equals(source)).toBe(true);
    expect(first.progress.bytesDone).toBe(30 * TRACK);
    expect(first.progress).toMatchObject({ tracksToSend: 30, tracksSent: 30 });
    // A finished job shows the copy's average rate, over its transfer step, and no ETA.
    const transfer = first.steps.find((step) => step.step === 510);
    const transferMs = Date.parse(transfer?.endedAt ?? "") - Date.parse(transfer?.startedAt ?? "");
    expect(first.progress.etaSeconds).toBeNull();
    expect(first.progress.rateBytesPerSecond).toBeGreaterThan(0);
    expect(first.progress.rateBytesPerSecond).toBeGreaterThanOrEqual(
      Math.floor((30 * TRACK) / ((transferMs + 2) / 1000)),
    );
    expectClean(both, first);

    // One track changes at the source: the repeat sends that track only.
    await primary.store.write("VOL001", { offsetBytes: 7 * TRACK, data: randomBytes(TRACK) });
    const again = await primary.jobs.wait((await primary.jobs.start(request)).id);
    expect(again).toMatchObject({ state: "succeeded" });
    expect(again.progress.bytesDone).toBe(TRACK);
    // The copy's work is the one track that differed, not the extent's 30 (issue 17).
    expect(again.progress).toMatchObject({
      tracksTotal: 30,
      tracksDone: 30,
      tracksToSend: 1,
      tracksSent: 1,
    });
    const changed = await primary.store.read("VOL001", tracks(0, 30));
    expect((await secondary.store.read("VOL900", tracks(150, 30))).equals(changed)).toBe(true);
    expectClean(both, again);
  });

  it("copies P as it was at the internal snap: a host write to P afterwards does not reach S", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    const snapped = await primary.store.read("VOL001", tracks(0, 15));
    const started = await primary.jobs.start({
      source: "VOL001:0.0-0.14",
      intermediate: "*",
      target: `${S}.VOL900`,
    });
    // As soon as the internal snap is done (the pair step starts), a host writes to P.
    let written: Promise<void> | undefined;
    const stop = primary.jobs.watch(started.id, (job) => {
      if (job.step === 508 && written === undefined) {
        written = primary.host.write("VOL001", { offsetBytes: 0, data: randomBytes(15 * TRACK) });
      }
    });
    const job = await primary.jobs.wait(started.id);
    stop();
    await written;
    expect(written).toBeDefined();
    expect(job.state).toBe("succeeded");
    expect((await secondary.store.read("VOL900", tracks(0, 15))).equals(snapped)).toBe(true);
    expect((await primary.store.read("VOL001", tracks(0, 15))).equals(snapped)).toBe(false);
    expectClean(both, job);
  });

  it("cancels a running job and cleans up", async () => {
    const both = await systems({ pauseAt: { step: 510 } });
    const { primary, secondary } = both;
    const before = await secondary.store.read("VOL900", tracks(0, 30));
    const started = await primary.jobs.start({
      source: "VOL001:0.0-1.14",
      intermediate: "*",
      target: `${S}.VOL900:0.0-1.14`,
      targetIntermediate: "*",
    });
    await vi.waitFor(() => expect(primary.jobs.show(started.id).step).toBe(510));
    expect(secondary.pairs.list()).toHaveLength(1);
    const cancelled = await primary.jobs.cancel(started.id);
    expect(cancelled).toMatchObject({ state: "cancelled", resultCode: "GSC_CANCELLED" });
    expectClean(both, cancelled);
    expect((await secondary.store.read("VOL900", tracks(0, 30))).equals(before)).toBe(true);
  });

  it("lets a reader of S during a GSC with S' see only the whole old or the whole new extent", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    const extent = tracks(150, 60);
    const old = await secondary.store.read("VOL900", extent);
    const fresh = await primary.store.read("VOL001", tracks(0, 60));
    const started = await primary.jobs.start({
      source: "VOL001:0.0-3.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-13.14`,
      targetIntermediate: "*",
    });
    const seen = { old: 0, fresh: 0 };
    let done = false;
    const reader = (async () => {
      while (!done) {
        const now = await secondary.host.read("VOL900", extent);
        if (now.equals(old)) seen.old += 1;
        else if (now.equals(fresh)) seen.fresh += 1;
        else throw new Error("a reader saw a half-copied extent");
      }
    })();
    const job = await primary.jobs.wait(started.id);
    done = true;
    await reader;
    expect(job.state).toBe("succeeded");
    expect(seen.old).toBeGreaterThan(0);
    expect((await secondary.store.read("VOL900", extent)).equals(fresh)).toBe(true);
  });

  it("runs jobs to different extents at once, both to the end", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    const first = await primary.jobs.start({
      source: "VOL001:0.0-1.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-11.14`,
      targetIntermediate: "*",
    });
    const second = await primary.jobs.start({
      source: "VOL001:5.0-6.14",
      intermediate: "*",
      target: `${S}.VOL900:15.0-16.14`,
      targetIntermediate: "*",
    });
    const ended = await Promise.all([primary.jobs.wait(first.id), primary.jobs.wait(second.id)]);
    expect(ended.map((job) => job.state)).toEqual(["succeeded", "succeeded"]);
    expect(
      (await secondary.store.read("VOL900", tracks(150, 30))).equals(
        await primary.store.read("VOL001", tracks(0, 30)),
      ),
    ).toBe(true);
    expect(
      (await secondary.store.read("VOL900", tracks(225, 30))).equals(
        await primary.store.read("VOL001", tracks(75, 30)),
      ),
    ).toBe(true);
    expectClean(both, ended[1]);
  });

  it("fails with GSC_VERIFY_MISMATCH when the target's tracks differ after the copy, and cleans up", async () => {
    // The job waits at step 514 until the damage is done, however long that takes.
    const damaged = gate();
    const both = await systems({ pauseAt: { step: 514, until: damaged.until } });
    const { primary, secondary } = both;
    const before = await secondary.store.read("VOL900", tracks(150, 15));
    const started = await primary.jobs.start({
      source: "VOL001:0.0-0.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-10.14`,
      targetIntermediate: "*",
    });
    await vi.waitFor(() => expect(primary.jobs.show(started.id).step).toBe(514));
    // Damage S' behind the job's back, as a faulty disk at the target would.
    const [intermediate] = secondary.pairs.list();
    await secondary.store.write(intermediate.volser, {
      offsetBytes: 3 * TRACK,
      data: randomBytes(512),
    });
    damaged.open();
    const job = await primary.jobs.wait(started.id);
    expect(job).toMatchObject({ state: "failed", resultCode: "GSC_VERIFY_MISMATCH" });
    expect((await secondary.store.read("VOL900", tracks(150, 15))).equals(before)).toBe(true);
    expectClean(both, job);
  });

  it("fails with GSC_TARGET_ERROR when the target refuses to reserve S, every step ended", async () => {
    // The job waits at step 502 (reservations) until S is gone from the target.
    const deleted = gate();
    const both = await systems({ pauseAt: { step: 502, until: deleted.until } });
    const { primary, secondary } = both;
    const started = await primary.jobs.start({
      source: "VOL001:0.0-0.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-10.14`,
      targetIntermediate: "*",
    });
    await vi.waitFor(() => expect(primary.jobs.show(started.id).step).toBe(502));
    await secondary.store.deleteVolume("VOL900");
    deleted.open();
    const job = await primary.jobs.wait(started.id);
    expect(job).toMatchObject({ state: "failed", resultCode: "GSC_TARGET_ERROR" });
    expect(job.resultMessage).toMatch(/VOLUME_NOT_FOUND/);
    // The step it failed in ended, saying why: none shows as running.
    expect(job.steps.filter((step) => step.endedAt === undefined)).toEqual([]);
    expect(job.steps.find((step) => step.step === 502)?.note).toMatch(/^GSC_TARGET_ERROR: /);
    expectClean(both, job);
  });

  it("refuses what verification finds wrong, before anything changes", async () => {
    const both = await systems();
    const { primary, secondary } = both;
    await primary.store.createVolume({ volser: "SMALL", ssid: "01A0", cylinders: 1 });
    await secondary.store.createVolume({ volser: "VOL901", ssid: "01B0", cylinders: 2 });
    const start = (
      source: string,
      intermediate: string,
      target: string,
      targetIntermediate?: string,
    ) =>
      codeOfAsync(() => primary.jobs.start({ source, intermediate, target, targetIntermediate }));
    expect(await start("VOL001:0.0-0.14", "*", `${S}.NOPE`)).toBe("VOLUME_NOT_FOUND");
    expect(await start("NOPE:0.0-0.14", "*", `${S}.VOL900`)).toBe("VOLUME_NOT_FOUND");
    expect(await start("VOL001:0.0-99.14", "*", `${S}.VOL900`)).toBe("CYLINDER_OUT_OF_RANGE");
    expect(await start("VOL001:5.0-5.14", "SMALL", `${S}.VOL900`)).toBe(
      "GSC_INTERMEDIATE_TOO_SMALL",
    );
    expect(await start("VOL001:0.0-0.14", "SMALL", `${S}.VOL900`)).toBe("PAIR_GEOMETRY_MISMATCH");
    expect(await start("VOL001:0.0-0.14", "*", `${S}.VOL900:1.0-1.14`)).toBe(
      "GSC_TARGET_EXTENT_WITHOUT_INTERMEDIATE",
    );
    expect(await start("VOL001:0.0-0.14", "*", `${S}.VOL900:1.0-2.14`, "*")).toBe(
      "EXTENT_SIZE_MISMATCH",
    );
    expect(await start("VOL001:5.0-5.14", "*", `${S}.VOL900:1.0-1.14`, "VOL901")).toBe(
      "GSC_INTERMEDIATE_TOO_SMALL",
    );
    expect(await start("VOL001:0.0-0.14", "*", "0000000009.01B0.VOL900")).toBe("PATH_NOT_FOUND");
    expect(await start("VOL001:0.0-0.14", "*", `${SECONDARY_SERIAL}.01B1.VOL900`)).toBe(
      "PATH_NOT_FOUND",
    );
    expect(await start("VOL001", "*", `${S}.VOL900`)).toBe("GSC_REQUEST_MALFORMED");
    await primary.store.createVolume({ volser: "PAIRED", ssid: "01A0", cylinders: CYLINDERS });
    await secondary.store.createVolume({ volser: "PAIRED", ssid: "01B0", cylinders: CYLINDERS });
    await primary.pairs.establish({ volser: "PAIRED", secondary: `${S}.PAIRED`, mode: "copy" });
    expect(await start("VOL001:0.0-0.14", "*", `${S}.PAIRED`)).toBe("GSC_VOLUME_BUSY");
    expect(await start("VOL001:0.0-0.14", "PAIRED", `${S}.VOL900`)).toBe("GSC_VOLUME_BUSY");
    expect(primary.jobs.list()).toEqual([]);
    expect(secondary.store.listVolumes().filter((volume) => volume.volser.startsWith("#"))).toEqual(
      [],
    );
  });

  it("serializes jobs on the same target: a second one is refused while the first runs", async () => {
    const both = await systems({ pauseAt: { step: 510 } });
    const { primary } = both;
    const first = await primary.jobs.start({
      source: "VOL001:0.0-0.14",
      intermediate: "*",
      target: `${S}.VOL900:0.0-0.14`,
      targetIntermediate: "*",
    });
    expect(
      await codeOfAsync(() =>
        primary.jobs.start({
          source: "VOL001:1.0-1.14",
          intermediate: "*",
          target: `${S}.VOL900:0.0-0.14`,
          targetIntermediate: "*",
        }),
      ),
    ).toBe("GSC_VOLUME_BUSY");
    // Another extent of the same volume is free.
    const other = await primary.jobs.start({
      source: "VOL001:1.0-1.14",
      intermediate: "*",
      target: `${S}.VOL900:5.0-5.14`,
      targetIntermediate: "*",
    });
    await primary.jobs.cancel(first.id);
    const ended = await primary.jobs.cancel(other.id);
    expect(ended.state).toBe("cancelled");
    expectClean(both, ended);
    expect(await codeOfAsync(() => primary.jobs.cancel(first.id))).toBe("JOB_STATE_INVALID");
    expect(await codeOfAsync(async () => primary.jobs.show("J999999"))).toBe("JOB_NOT_FOUND");
  });
});
