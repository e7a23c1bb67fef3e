// Runs one GSC job through its steps (DESIGN.md §3, source side 500-524), recording each step's
// start and end in the job before and after it runs. Whatever happens after verification, the
// pair is terminated and what the job reserved is given back (`cleanUp`), so a failed job leaves
// no pair, reservation or intermediate behind.
//
// Incremental: before the copy, the target tells the checksums of what the pair's secondary holds
// where the tracks will land; only tracks whose checksums differ cross the link. With S', the
// target first snaps S's extent into S' (so S' starts from what S holds), then takes the
// differing tracks, and the final snap S' -> S changes the extent in one step.
//
// Verified: the tracks that matched were compared on the pair's secondary itself, just before
// the pair made it read-only to hosts; the tracks sent were checked on arrival against the
// source's checksums (docs/link-protocol.md). What is left to check (514, 520) is that each sent
// track is stored where it belongs, with its checksum: the target's checksums of those tracks
// only, so a repeated GSC checks what changed, not the whole extent.

import assert from "node:assert";
import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { type Extent, parseExtentList } from "../geometry/address.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { TrackRange } from "../pprc/track-feed.js";
import type { Store } from "../store/store.js";
import {
  CHECKSUM_BYTES,
  checksumList,
  differingPositions,
  gatherChecksums,
  type PositionRun,
  positionAt,
  positionCount,
  tracksAt,
} from "./copy-runs.js";
import { type GscPlan, runsOf } from "./gsc-plan.js";
import type { GscStep, JobProgress } from "./job-service.js";
import { type RemoteSystem, TargetRefusal } from "./remote-system.js";

/** How often the transfer step reads the pair's progress into the job. */
const PROGRESS_INTERVAL_MS = 250;

/** Tests only: stop before `step` for `ms`, until `until` settles, or until the job is cancelled. */
export interface TestPause {
  readonly step: GscStep;
  readonly ms?: number;
  /** Lets a test go on once it has done what it does at the step, however long that took. */
  readonly until?: Promise<unknown>;
}

/** What the runner needs; the job manager gives it. */
export interface RunnerDeps {
  readonly store: Store;
  readonly pairs: PairManager;
  readonly remote: RemoteSystem;
  readonly jobId: string;
  /** This system's serial: with the job id, the name an allocated P' is marked with. */
  readonly serial: string;
  /** Records a step's start (before it runs) or end (after). */
  readonly step: (step: GscStep, event: "start" | "end", note?: string) => Promise<void>;
  /**
   * Records the plan as it becomes concrete: "durable" when a crash must find the change (a
   * name clean-up depends on), "lazy" when it is news (the S' the target named).
   */
  readonly savePlan: (plan: GscPlan, durability: "durable" | "lazy") => Promise<void>;
  readonly progress: (progress: JobProgress) => void;
  /** Aborted when the job is cancelled. */
  readonly signal: AbortSignal;
  /** Tests: a step at which the job stops and waits (GSNAP_TEST_PAUSE_AT). */
  readonly pauseAt?: TestPause;
  readonly bytesPerSecond?: number;
}

export class GscRunner {
  private plan: GscPlan;

  constructor(
    plan: GscPlan,
    private readonly deps: RunnerDeps,
  ) {
    this.plan = plan;
  }

  /** Steps 502 (reservations) to 520; the caller runs 522 and 524 (cleanUp) whatever happens. */
  async run(): Promise<string> {
    const { deps } = this;
    const sourceExtents = parseExtentList(this.plan.source.extents);
    const targetExtents = parseExtentList(this.plan.target.extents);

    await this.at(502);
    await this.reserve();
    await deps.step(502, "end", "request verified; target volumes reserved");

    await this.at(506);
    const intermediate = await this.snapSource();
    await deps.step(506, "end", `snapped ${this.plan.tracks} tracks into ${intermediate}`);

    await this.at(508);
    const pairTarget = this.plan.targetIntermediate?.volser ?? this.plan.target.volser;
    const { sums, differing } = await this.compare(intermediate, pairTarget);
    await deps.pairs.establish(
      {
        volser: intermediate,
        secondary: `${this.plan.target.serial}.${this.plan.target.ssid}.${pairTarget}`,
        mode: "copy",
      },
      {
        copy: tracksAt(sourceExtents, differing),
        bytesPerSecond: deps.bytesPerSecond,
        job: deps.jobId,
      },
    );
    const toSend = positionCount(differing);
    await deps.step(
      508,
      "end",
      `paired ${intermediate} with ${pairTarget}; ${toSend} of ${this.plan.tracks} tracks differ`,
    );

    await this.at(510);
    await this.transfer(intermediate, toSend);
    await deps.step(510, "end", `sent ${toSend} tracks`);

    await this.at(512);
    // With S', the flush after the final snap (520) makes the tracks and the snap durable at once.
    if (this.plan.targetIntermediate === undefined) {
      await deps.remote.flush();
      await deps.step(512, "end", "the target made the tracks durable");
    } else {
      await deps.step(512, "end", "all tracks stored; made durable with the snap at 520");
    }

    await this.at(514);
    await this.verify({ volser: pairTarget, extents: sourceExtents, sent: differing, sums });
    await deps.step(514, "end", `the target's checksums of the ${toSend} tracks sent match`);

    await this.at(516);
    const withIntermediate = this.plan.targetIntermediate !== undefined;
    await deps.step(516, "end", withIntermediate ? `yes: ${pairTarget}` : "no");
    if (!withIntermediate) return `copied ${this.plan.tracks} tracks to ${this.targetName()}`;

    await this.at(518);
    const snapped = await deps.remote.snap({
      job: deps.jobId,
      source: `${pairTarget}:${this.plan.source.extents}`,
      target: `${this.plan.target.volser}:${this.plan.target.extents}`,
    });
    await deps.step(518, "end", `the target snapped ${snapped} tracks from ${pairTarget}`);

    await this.at(520);
    await deps.remote.flush();
    await this.verify({
      volser: this.plan.target.volser,
      extents: targetExtents,
      sent: differing,
      sums,
    });
    await deps.step(520, "end", `the target extent holds the ${toSend} tracks sent`);
    return `copied ${this.plan.tracks} tracks to ${this.targetName()}:${this.plan.target.extents}`;
  }

  private targetName(): string {
    return `${this.plan.target.serial}.${this.plan.target.ssid}.${this.plan.target.volser}`;
  }

  /** Records the step's start, then stops if the job was cancelled or a test pauses here. */
  private async at(step: GscStep): Promise<void> {
    this.checkCancelled();
    await this.deps.step(step, "start");
    const { signal } = this.deps;
    const pause = this.deps.pauseAt;
    if (pause?.step === step && !signal.aborted) {
      await new Promise<void>((resolve) => {
        signal.addEventListener("abort", () => resolve(), { once: true });
        if (pause.ms !== undefined) setTimeout(resolve, pause.ms);
        pause.until?.then(
          () => resolve(),
          () => resolve(),
        );
      });
    }
    this.checkCancelled();
  }

  private checkCancelled(): void {
    if (this.deps.signal.aborted) {
      throw new GsnapError("GSC_CANCELLED", `Job ${this.deps.jobId} was cancelled`);
    }
  }

  private async reserve(): Promise<void> {
    const { remote, jobId } = this.deps;
    const { target } = this.plan;
    await remote.reserve({
      job: jobId,
      ssid: target.ssid,
      volser: target.volser,
      // Without S', S is the pair's secondary: the whole volume is held while the job runs.
      extents: this.plan.targetIntermediate === undefined ? undefined : this.plan.target.extents,
    });
    const wanted = this.plan.targetIntermediate;
    if (wanted === undefined) return;
    const volser = await remote.reserve({
      job: jobId,
      ssid: target.ssid,
      volser: wanted.volser,
      create: wanted.auto ? this.plan.pairGeometry : undefined,
    });
    this.plan = { ...this.plan, targetIntermediate: { ...wanted, volser } };
    // News only: the target deletes an S' it created when the job's reservations are released.
    await this.deps.savePlan(this.plan, "lazy");
  }

  /** Step 506: P's extents into P' at the same addresses; P is free again once this returns. */
  private async snapSource(): Promise<string> {
    const { store } = this.deps;
    const { volser, auto } = this.plan.intermediate;
    assert.ok(volser !== undefined, "the job names P' when it is accepted");
    if (auto) await this.createIntermediate(volser);
    await store.snap({
      source: {
        volser: this.plan.source.volser,
        extents: parseExtentList(this.plan.source.extents),
      },
      target: { volser },
    });
    return volser;
  }

  /**
   * Creates the P' the job named when it was accepted. A volume of that name made since then is
   * not the job's: its name leaves the record (durably, so that no clean-up deletes it) and the
   * job fails.
   */
  private async createIntermediate(volser: string): Promise<void> {
    try {
      await this.deps.store.createVolume({
        volser,
        ssid: this.plan.source.ssid,
        ...this.plan.pairGeometry,
        job: { id: this.deps.jobId, serial: this.deps.serial },
      });
    } catch (error) {
      if (!isGsnapError(error) || error.code !== "VOLUME_EXISTS") throw error;
      this.plan = { ...this.plan, intermediate: { auto: true } };
      await this.deps.savePlan(this.plan, "durable");
      throw new GsnapError(
        "GSC_VOLUME_BUSY",
        `Cannot create P' ${volser} for job ${this.deps.jobId}: a volume of that name was created after the job was accepted; run the GSC again`,
        { cause: error },
      );
    }
  }

  /** The checksum list of P' at P's extents (`runs`), in copy order. */
  private async sourceChecksums(
    intermediate: string,
    runs: readonly TrackRange[],
  ): Promise<Buffer> {
    const { store } = this.deps;
    const lists = await Promise.all(runs.map((run) => store.trackChecksums(intermediate, run)));
    const sums = checksumList(lists.flat());
    assert.equal(sums.length, this.plan.tracks * CHECKSUM_BYTES, "a checksum for each track");
    return sums;
  }

  /**
   * P''s checksum list, and the positions of the copy whose checksums differ between P' and the
   * pair's secondary to be (S, or S' at P's addresses). With S', S's extent is snapped into S'
   * first, so S' starts from what S holds and the compare reads S' itself: a host write to S
   * after the snap cannot slip past. Each side reads its checksums at the same time.
   */
  private async compare(
    intermediate: string,
    pairTarget: string,
  ): Promise<{ sums: Buffer; differing: PositionRun[] }> {
    const { remote, jobId } = this.deps;
    const runs = runsOf(parseExtentList(this.plan.source.extents));
    if (this.plan.targetIntermediate !== undefined) {
      await remote.snap({
        job: jobId,
        source: `${this.plan.target.volser}:${this.plan.target.extents}`,
        target: `${pairTarget}:${this.plan.source.extents}`,
      });
    }
    // The requests go out now; the target answers them while this side reads P'.
    const reading = remote.checksums({ job: jobId, volser: pairTarget, runs });
    let sums: Buffer;
    try {
      sums = await this.sourceChecksums(intermediate, runs);
    } catch (error) {
      reading.catch(() => {});
      throw error;
    }
    return { sums, differing: differingPositions(sums, await reading) };
  }

  /** Step 510: waits for the copy, reading its progress; a suspended pair fails the job. */
  private async transfer(intermediate: string, toSend: number): Promise<void> {
    const { pairs } = this.deps;
    const pair = pairs.primaryOf(intermediate);
    if (pair === undefined)
      throw new GsnapError("GSC_TRANSFER_FAILED", `The pair of ${intermediate} is gone`);
    const size = this.plan.trackSizeBytes;
    const startedMs = performance.now();
    // While the copy runs, the pair's rate now and its ETA; once it is over, the copy's average
    // rate (what a finished job's rate means) and no ETA. The tracks to send and sent are the
    // pair's own count of its copy's work, not of the volume (nor of the extent).
    const report = (over = false) => {
      const info = pair.info();
      const left = info.tracksOutOfSync ?? 0;
      const tracksToSend = info.tracksToCopy ?? toSend;
      const bytesDone = Math.min(info.bytesSent, toSend * size);
      const seconds = (performance.now() - startedMs) / 1000;
      const average = seconds > 0 ? Math.round(bytesDone / seconds) : 0;
      this.deps.progress({
        tracksTotal: this.plan.tracks,
        tracksDone: this.plan.tracks - left,
        tracksToSend,
        tracksSent: tracksToSend - left,
        bytesTotal: toSend * size,
        bytesDone,
        rateBytesPerSecond: over ? average : info.rateBytesPerSecond,
        etaSeconds: over ? null : info.etaSeconds,
      });
    };
    report();
    const timer = setInterval(report, PROGRESS_INTERVAL_MS);
    const cancelled = new Promise<"cancelled">((resolve) =>
      this.deps.signal.addEventListener("abort", () => resolve("cancelled"), { once: true }),
    );
    try {
      const state = await Promise.race([pair.settled(), cancelled]);
      this.checkCancelled();
      if (state !== "duplex") {
        const info = pair.info();
        throw new GsnapError(
          "GSC_TRANSFER_FAILED",
          `The copy to ${this.plan.target.serial} stopped: the pair suspended (${info.reason}) with ${info.tracksOutOfSync} tracks left`,
        );
      }
    } finally {
      clearInterval(timer);
      report(true);
    }
  }

  /**
   * The target's checksums of the tracks sent, where `extents` of `volser` hold the copy, must
   * equal the source's, track by track: one CHECKSUMS request per batch of them.
   */
  private async verify(check: {
    volser: string;
    extents: readonly Extent[];
    sent: readonly PositionRun[];
    sums: Buffer;
  }): Promise<void> {
    if (check.sent.length === 0) return;
    const expected = gatherChecksums(check.sums, check.sent);
    const held = await this.deps.remote.checksums({
      job: this.deps.jobId,
      volser: check.volser,
      runs: tracksAt(check.extents, check.sent),
    });
    const [wrong] = differingPositions(expected, held);
    if (wrong !== undefined) {
      const position = positionAt(check.sent, wrong.firstPosition);
      throw new GsnapError(
        "GSC_VERIFY_MISMATCH",
        `The target's ${check.volser} differs from the source at the copy's track ${position} (of ${this.plan.tracks}): the job failed and changed nothing it could undo; run it again`,
      );
    }
  }
}

/** The result code of a job that failed with `error` after verification. */
export function failureCode(error: unknown): { code: string; message: string } {
  if (!isGsnapError(error)) {
    return { code: "INTERNAL", message: `The job failed: ${String(error)}` };
  }
  switch (error.code) {
    case "GSC_CANCELLED":
    case "GSC_TRANSFER_FAILED":
    case "GSC_VERIFY_MISMATCH":
    case "GSC_TARGET_ERROR":
      return { code: error.code, message: error.message };
    case "LINK_DOWN":
    case "PATH_NOT_FOUND":
      return { code: "GSC_TRANSFER_FAILED", message: error.message };
    default:
      if (error instanceof TargetRefusal) {
        return { code: "GSC_TARGET_ERROR", message: `${error.code}: ${error.message}` };
      }
      return { code: error.code, message: error.message };
  }
}
