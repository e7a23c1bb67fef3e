// Runs one GSC job through its steps (DESIGN.md §3, source side 500-524), recording each step's
// start and end in the job before and after it runs. Whatever happens after verification, the
// pair is terminated and what the job reserved is given back (`cleanUp`), so a failed job leaves
// no pair, reservation or intermediate behind.
//
// Incremental: before the copy, the target tells the checksums of what it holds where the tracks
// will land; only tracks whose checksums differ cross the link. With S', the target first snaps
// S's extent into S' (so S' starts from what S holds), then takes the differing tracks, and the
// final snap S' -> S changes the extent in one step.

import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { type Extent, parseExtentList } from "../geometry/address.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { TrackRange } from "../pprc/track-feed.js";
import type { Store } from "../store/store.js";
import { type GscPlan, runsOf } from "./gsc-plan.js";
import type { GscStep, JobProgress } from "./job-service.js";
import { type RemoteSystem, TargetRefusal } from "./remote-system.js";

/** How often the transfer step reads the pair's progress into the job. */
const PROGRESS_INTERVAL_MS = 250;

/** Tests only: stop before `step` for `ms`, or until the job is cancelled. */
export interface TestPause {
  readonly step: GscStep;
  readonly ms?: number;
}

/** What the runner needs; the job manager gives it. */
export interface RunnerDeps {
  readonly store: Store;
  readonly pairs: PairManager;
  readonly remote: RemoteSystem;
  readonly jobId: string;
  /** Records a step's start (before it runs) or end (after). */
  readonly step: (step: GscStep, event: "start" | "end", note?: string) => Promise<void>;
  /** Records the plan as it becomes concrete (allocated names). */
  readonly savePlan: (plan: GscPlan) => Promise<void>;
  readonly progress: (progress: JobProgress) => void;
  /** Aborted when the job is cancelled. */
  readonly signal: AbortSignal;
  /** Tests: a step at which the job stops and waits (GSNAP_TEST_PAUSE_AT). */
  readonly pauseAt?: TestPause;
  /** Allocates a free local VOLSER for P'. */
  readonly freeLocalName: () => string;
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
    const runs = runsOf(sourceExtents);

    await this.at(502);
    await this.reserve();
    await deps.step(502, "end", "request verified; target volumes reserved");

    await this.at(506);
    const intermediate = await this.snapSource();
    await deps.step(506, "end", `snapped ${this.plan.tracks} tracks into ${intermediate}`);

    await this.at(508);
    const sums = this.sourceChecksums(intermediate, runs);
    const differing = await this.differingTracks(runs, sums, targetExtents);
    const pairTarget = this.plan.targetIntermediate?.volser ?? this.plan.target.volser;
    await deps.pairs.establish(
      {
        volser: intermediate,
        secondary: `${this.plan.target.serial}.${this.plan.target.ssid}.${pairTarget}`,
        mode: "copy",
      },
      { copy: differing, bytesPerSecond: deps.bytesPerSecond },
    );
    const toSend = differing.reduce((sum, run) => sum + run.count, 0);
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
    await this.verify(pairTarget, sourceExtents, sums);
    await deps.step(514, "end", "the target's checksums match the source's");

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
    await this.verify(this.plan.target.volser, targetExtents, sums);
    await deps.step(520, "end", "the target extent matches the source");
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
    await this.deps.savePlan(this.plan);
  }

  /** Step 506: P's extents into P' at the same addresses; P is free again once this returns. */
  private async snapSource(): Promise<string> {
    const { store } = this.deps;
    let volser = this.plan.intermediate.volser;
    if (volser === undefined) {
      volser = this.deps.freeLocalName();
      // Recorded before it exists, so that a crash right after still finds it to delete.
      this.plan = { ...this.plan, intermediate: { volser, auto: true } };
      await this.deps.savePlan(this.plan);
      await store.createVolume({ volser, ssid: this.plan.source.ssid, ...this.plan.pairGeometry });
    }
    await store.snap({
      source: {
        volser: this.plan.source.volser,
        extents: parseExtentList(this.plan.source.extents),
      },
      target: { volser },
    });
    return volser;
  }

  private sourceChecksums(intermediate: string, runs: readonly TrackRange[]): bigint[] {
    return runs.flatMap((run) => this.deps.store.trackChecksums(intermediate, run));
  }

  /** The tracks of P' (at P's addresses) whose checksums differ from what the target holds. */
  private async differingTracks(
    runs: readonly TrackRange[],
    sums: readonly bigint[],
    targetExtents: Extent[],
  ): Promise<TrackRange[]> {
    const { remote, jobId } = this.deps;
    const held = await this.targetChecksums(this.plan.target.volser, targetExtents);
    const intermediate = this.plan.targetIntermediate?.volser;
    if (intermediate !== undefined && held.some((sum, index) => sum === sums[index])) {
      // S' starts as S's extent, at P's addresses, so the tracks that match need not cross.
      // (When none matches, every track crosses and S' is overwritten where it matters.)
      await remote.snap({
        job: jobId,
        source: `${this.plan.target.volser}:${this.plan.target.extents}`,
        target: `${intermediate}:${this.plan.source.extents}`,
      });
    }
    const differing: TrackRange[] = [];
    let index = 0;
    for (const run of runs) {
      for (let i = 0; i < run.count; i += 1, index += 1) {
        if (held[index] === sums[index]) continue;
        const track = run.firstTrack + i;
        const last = differing.at(-1);
        if (last !== undefined && last.firstTrack + last.count === track) {
          differing[differing.length - 1] = { firstTrack: last.firstTrack, count: last.count + 1 };
        } else differing.push({ firstTrack: track, count: 1 });
      }
    }
    return differing;
  }

  private async targetChecksums(volser: string, extents: readonly Extent[]): Promise<bigint[]> {
    const all: bigint[] = [];
    for (const run of runsOf(extents)) {
      all.push(
        ...(await this.deps.remote.checksums(this.deps.jobId, volser, run.firstTrack, run.count)),
      );
    }
    return all;
  }

  /** Step 510: waits for the copy, reading its progress; a suspended pair fails the job. */
  private async transfer(intermediate: string, toSend: number): Promise<void> {
    const { pairs } = this.deps;
    const pair = pairs.primaryOf(intermediate);
    if (pair === undefined)
      throw new GsnapError("GSC_TRANSFER_FAILED", `The pair of ${intermediate} is gone`);
    const size = this.plan.trackSizeBytes;
    const report = () => {
      const info = pair.info();
      const left = info.tracksOutOfSync ?? 0;
      this.deps.progress({
        tracksTotal: this.plan.tracks,
        tracksDone: this.plan.tracks - left,
        bytesTotal: toSend * size,
        bytesDone: Math.min(info.bytesSent, toSend * size),
        rateBytesPerSecond: info.rateBytesPerSecond,
        etaSeconds: info.etaSeconds,
      });
    };
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
      report();
    }
  }

  /** The target's checksums of `extents` of `volser` must equal the source's, track by track. */
  private async verify(
    volser: string,
    extents: readonly Extent[],
    sums: readonly bigint[],
  ): Promise<void> {
    const held = await this.targetChecksums(volser, extents);
    const wrong = held.findIndex((sum, index) => sum !== sums[index]);
    if (wrong >= 0) {
      throw new GsnapError(
        "GSC_VERIFY_MISMATCH",
        `The target's ${volser} differs from the source at the copy's track ${wrong} (of ${sums.length}): the job failed and changed nothing it could undo; run it again`,
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
