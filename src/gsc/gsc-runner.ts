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
//
// Resumable (resume-point.ts): `run` starts at any step the job stopped at; every step may run
// again, so a record that lags what ran is safe. A request that fails because the link to the
// target went down waits for the link (link-wait.ts) and runs its step again.

import assert from "node:assert";
import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { parseExtentList } from "../geometry/address.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { Store } from "../store/store.js";
import { type PositionRun, positionCount, tracksAt } from "./copy-runs.js";
import { type GscPlan, runsOf } from "./gsc-plan.js";
import { transferCopy } from "./gsc-transfer.js";
import type { GscStep, JobProgress, ResumeCause } from "./job-service.js";
import { LINK_WAIT_MS, retryOnLinkFailure } from "./link-wait.js";
import type { RemoteSystem } from "./remote-system.js";
import { compareWithTarget, sourceChecksums, verifyTarget } from "./target-checks.js";

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
  /** Called when the job goes on from `step` after `cause`. */
  readonly resumed?: (step: GscStep, cause: ResumeCause) => void;
  /** How long a step waits for a link that went down (LINK_WAIT_MS). */
  readonly linkWaitMs?: number;
}

/** Where a run starts: 502 for a new job, or where a resumed one goes on (resume-point.ts). */
export interface RunStart {
  readonly fromStep: GscStep;
  /** The job's pair may have been made before: S' holds tracks of the copy. */
  readonly pairOpened: boolean;
}

/** What the compare at 508 found: P''s checksums and the copy's positions that differed. */
interface Compared {
  readonly sums: Buffer;
  readonly differing: PositionRun[];
}

export class GscRunner {
  private plan: GscPlan;
  /** Set once the pair may exist on the target: S' is not snapped over from S again. */
  private pairOpened = false;

  constructor(
    plan: GscPlan,
    private readonly deps: RunnerDeps,
  ) {
    this.plan = plan;
  }

  /**
   * Steps 502 (reservations) to 520, from `start.fromStep`; the caller runs 522 and 524
   * (cleanUp) whatever happens. Answers the result message of a job that succeeded.
   */
  async run(start: RunStart = { fromStep: 502, pairOpened: false }): Promise<string> {
    const from = start.fromStep;
    this.pairOpened = start.pairOpened;
    const withIntermediate = this.plan.targetIntermediate !== undefined;
    if (from >= 522) return this.succeeded();
    if (from <= 502) {
      await this.at(502);
      await this.attempt(502, () => this.reserve());
      await this.deps.step(502, "end", "request verified; target volumes reserved");
    }
    const intermediate = this.plan.intermediate.volser;
    assert.ok(intermediate !== undefined, "the job names P' when it is accepted");
    if (from <= 506) {
      await this.at(506);
      await this.snapSource(intermediate);
      await this.deps.step(506, "end", `snapped ${this.plan.tracks} tracks into ${intermediate}`);
    }
    let compared: Compared | undefined;
    if (from <= 508) compared = await this.copy(intermediate);
    if (from <= 516) {
      await this.at(516);
      await this.deps.step(516, "end", withIntermediate ? `yes: ${this.pairTarget()}` : "no");
      if (!withIntermediate) return this.succeeded();
    }
    // Resumed after 508: the checksums are read again, and the whole extent is checked.
    compared ??= {
      sums: await sourceChecksums(this.deps.store, {
        volser: intermediate,
        runs: runsOf(parseExtentList(this.plan.source.extents)),
        tracks: this.plan.tracks,
      }),
      differing: [{ firstPosition: 0, count: this.plan.tracks }],
    };
    if (from <= 518) {
      await this.at(518);
      const snapped = await this.attempt(518, () =>
        this.deps.remote.snap({
          job: this.deps.jobId,
          source: `${this.pairTarget()}:${this.plan.source.extents}`,
          target: `${this.plan.target.volser}:${this.plan.target.extents}`,
        }),
      );
      await this.deps.step(
        518,
        "end",
        `the target snapped ${snapped} tracks from ${this.pairTarget()}`,
      );
    }
    await this.at(520);
    await this.attempt(520, async () => {
      await this.deps.remote.flush();
      await verifyTarget(this.checkDeps(), {
        volser: this.plan.target.volser,
        extents: parseExtentList(this.plan.target.extents),
        sent: compared.differing,
        sums: compared.sums,
      });
    });
    const checked = positionCount(compared.differing);
    const what = from <= 508 ? "tracks sent" : "tracks of the extent (checked whole on resuming)";
    await this.deps.step(520, "end", `the target extent holds the ${checked} ${what}`);
    return this.succeeded();
  }

  /** Steps 508 to 514: the compare, the pair, the copy, the flush and the check of what arrived. */
  private async copy(intermediate: string): Promise<Compared> {
    const { deps } = this;
    const sourceExtents = parseExtentList(this.plan.source.extents);
    const pairTarget = this.pairTarget();
    await this.at(508);
    const compared = await this.attempt(508, () => this.establish(intermediate));
    const toSend = positionCount(compared.differing);
    await deps.step(
      508,
      "end",
      `paired ${intermediate} with ${pairTarget}; ${toSend} of ${this.plan.tracks} tracks differ`,
    );

    await this.at(510);
    await transferCopy({
      pairs: deps.pairs,
      intermediate,
      toSend,
      tracks: this.plan.tracks,
      trackSizeBytes: this.plan.trackSizeBytes,
      targetSerial: this.plan.target.serial,
      signal: deps.signal,
      linkWaitMs: deps.linkWaitMs ?? LINK_WAIT_MS,
      progress: deps.progress,
      resumed: () => deps.resumed?.(510, "link failure"),
      checkCancelled: () => this.checkCancelled(),
    });
    await deps.step(510, "end", `sent ${toSend} tracks`);

    await this.at(512);
    // With S', the flush after the final snap (520) makes the tracks and the snap durable at once.
    if (this.plan.targetIntermediate === undefined) {
      await this.attempt(512, () => deps.remote.flush());
      await deps.step(512, "end", "the target made the tracks durable");
    } else {
      await deps.step(512, "end", "all tracks stored; made durable with the snap at 520");
    }

    await this.at(514);
    await this.attempt(514, () =>
      verifyTarget(this.checkDeps(), {
        volser: pairTarget,
        extents: sourceExtents,
        sent: compared.differing,
        sums: compared.sums,
      }),
    );
    await deps.step(514, "end", `the target's checksums of the ${toSend} tracks sent match`);
    return compared;
  }

  /**
   * Step 508: the compare, then the pair P' -> S (or S') copying only the tracks that differ. A
   * pair of P' left from before a restart is terminated first: the compare finds what the
   * target still lacks, which is what the old pair had left to send.
   */
  private async establish(intermediate: string): Promise<Compared> {
    const { deps } = this;
    if (deps.pairs.primaryOf(intermediate) !== undefined) await deps.pairs.terminate(intermediate);
    const pairTarget = this.pairTarget();
    const compared = await compareWithTarget(this.deps, {
      plan: this.plan,
      intermediate,
      pairTarget,
      // Once the pair may have been made, S' holds tracks of the copy: snapping S over them
      // would send them again (and S' may be the pair's secondary still, which refuses it).
      snapTarget: this.plan.targetIntermediate !== undefined && !this.pairOpened,
    });
    this.pairOpened = true;
    await deps.pairs.establish(
      {
        volser: intermediate,
        secondary: `${this.plan.target.serial}.${this.plan.target.ssid}.${pairTarget}`,
        mode: "copy",
      },
      {
        copy: tracksAt(parseExtentList(this.plan.source.extents), compared.differing),
        bytesPerSecond: deps.bytesPerSecond,
        job: deps.jobId,
      },
    );
    return compared;
  }

  private checkDeps() {
    return { remote: this.deps.remote, jobId: this.deps.jobId, tracks: this.plan.tracks };
  }

  private pairTarget(): string {
    const volser = this.plan.targetIntermediate?.volser ?? this.plan.target.volser;
    assert.ok(
      this.plan.targetIntermediate === undefined ||
        this.plan.targetIntermediate.volser !== undefined,
      "S' is named once reserved (502)",
    );
    return volser;
  }

  private succeeded(): string {
    const extents =
      this.plan.targetIntermediate === undefined ? "" : `:${this.plan.target.extents}`;
    return `copied ${this.plan.tracks} tracks to ${this.targetName()}${extents}`;
  }

  /** Runs a step's work again when the link to the target failed under it (link-wait.ts). */
  private attempt<T>(step: GscStep, body: () => Promise<T>): Promise<T> {
    return retryOnLinkFailure(body, {
      reachable: () => this.deps.remote.reachable(),
      signal: this.deps.signal,
      timeoutMs: this.deps.linkWaitMs ?? LINK_WAIT_MS,
      checkCancelled: () => this.checkCancelled(),
      resumed: () => this.deps.resumed?.(step, "link failure"),
    });
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

  /**
   * Step 506: P's extents into P' at the same addresses; P is free again once this returns. Run
   * again after a restart, it snaps again: P' then holds P as it is now, and nothing was sent yet.
   */
  private async snapSource(intermediate: string): Promise<void> {
    const { store } = this.deps;
    if (this.plan.intermediate.auto && !this.ownsIntermediate(intermediate)) {
      await this.createIntermediate(intermediate);
    }
    await store.snap({
      source: {
        volser: this.plan.source.volser,
        extents: parseExtentList(this.plan.source.extents),
      },
      target: { volser: intermediate },
    });
  }

  /** Whether the allocated P' is there already, made by this job before a restart. */
  private ownsIntermediate(volser: string): boolean {
    const volume = this.deps.store.listVolumes().find((candidate) => candidate.volser === volser);
    return volume?.job?.id === this.deps.jobId && volume.job.serial === this.deps.serial;
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
}
