// What a GSC compares and verifies: the whole extent once, before the pair, in one CHECKSUMS
// request per batch; after the copy only the tracks it sent, at 514 on the pair's secondary and
// at 520 on S's target extent, where a damaged track fails the job.

import { randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import type { ControlOpName } from "../link/frame-types.js";
import { gate } from "../testing/gate.js";
import { expectClean, gscSystems, S, TRACK, tracks } from "../testing/gsc-systems.js";
import { RemoteSystem } from "./remote-system.js";

/** The CONTROL requests the source sends from now on, by op. */
function controlRequests(): { op: ControlOpName; body: Record<string, unknown> }[] {
  const sent: { op: ControlOpName; body: Record<string, unknown> }[] = [];
  const remote = RemoteSystem.prototype as unknown as {
    call(op: ControlOpName, body: object): Promise<Record<string, unknown>>;
  };
  const call = remote.call;
  vi.spyOn(remote, "call").mockImplementation(function (this: RemoteSystem, op, body) {
    sent.push({ op, body: body as Record<string, unknown> });
    return call.call(this, op, body);
  });
  return sent;
}

describe("GSC verification", () => {
  it("compares the whole extent once and verifies only the tracks a repeat sent, in one request each", async () => {
    const both = await gscSystems();
    const { primary, secondary } = both;
    const request = {
      source: "VOL001:0.0-3.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-13.14`,
      targetIntermediate: "*",
    };
    const first = await primary.jobs.wait((await primary.jobs.start(request)).id);
    expect(first.state).toBe("succeeded");

    // Three scattered tracks change: positions 5, 20 and 41 of the copy.
    for (const track of [5, 20, 41]) {
      await primary.store.write("VOL001", { offsetBytes: track * TRACK, data: randomBytes(TRACK) });
    }
    const sent = controlRequests();
    const read = vi.spyOn(secondary.store, "trackChecksums");
    const again = await primary.jobs.wait((await primary.jobs.start(request)).id);
    vi.restoreAllMocks();

    expect(again.state).toBe("succeeded");
    expect(again.progress.bytesDone).toBe(3 * TRACK);
    const checksums = sent.filter((request) => request.op === "CHECKSUMS");
    expect(checksums.map((request) => request.body.runs)).toEqual([
      [[0, 60]],
      // 514: the sent tracks on S', at P's addresses.
      [
        [5, 1],
        [20, 1],
        [41, 1],
      ],
      // 520: the same tracks on S's target extent, 150 tracks further.
      [
        [155, 1],
        [170, 1],
        [191, 1],
      ],
    ]);
    const tracksRead = read.mock.calls.reduce((sum, [, range]) => sum + range.count, 0);
    expect(tracksRead).toBe(60 + 3 + 3);
    const changed = await primary.store.read("VOL001", tracks(0, 60));
    expect((await secondary.store.read("VOL900", tracks(150, 60))).equals(changed)).toBe(true);
    expectClean(both, again);
  });

  it("verifies nothing after the copy when no track differs", async () => {
    const both = await gscSystems();
    const request = { source: "VOL001:0.0-0.14", intermediate: "*", target: `${S}.VOL900` };
    await both.primary.jobs.wait((await both.primary.jobs.start(request)).id);
    const sent = controlRequests();
    const again = await both.primary.jobs.wait((await both.primary.jobs.start(request)).id);
    vi.restoreAllMocks();
    expect(again.state).toBe("succeeded");
    expect(again.progress.bytesDone).toBe(0);
    expect(sent.filter((request) => request.op === "CHECKSUMS")).toHaveLength(1);
    expect(again.steps.find((step) => step.step === 514)?.note).toMatch(/0 tracks sent/);
  });

  it("fails with GSC_VERIFY_MISMATCH when S's target extent differs at a sent track after the snap, and cleans up", async () => {
    // The job waits at step 520 until the damage is done, however long that takes.
    const damaged = gate();
    const both = await gscSystems({ pauseAt: { step: 520, until: damaged.until } });
    const { primary, secondary } = both;
    const started = await primary.jobs.start({
      source: "VOL001:0.0-0.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-10.14`,
      targetIntermediate: "*",
    });
    await vi.waitFor(() => expect(primary.jobs.show(started.id).step).toBe(520));
    // A faulty disk at the target after the snap: the copy's track 3 is S's track 153.
    await secondary.store.write("VOL900", { offsetBytes: 153 * TRACK, data: randomBytes(512) });
    damaged.open();
    const job = await primary.jobs.wait(started.id);
    expect(job).toMatchObject({ state: "failed", resultCode: "GSC_VERIFY_MISMATCH" });
    expect(job.resultMessage).toMatch(
      /VOL900 differs from the source at the copy's track 3 \(of 15\)/,
    );
    expectClean(both, job);
  });
});
