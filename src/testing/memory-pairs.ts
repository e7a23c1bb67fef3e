// A PairService with no link behind it, for API and CLI tests: it checks requests as the
// PairManager does (the same pure checks), refuses what the PairManager refuses, and keeps pairs
// in memory. Nothing copies: a new or resumed pair stays pending until a test moves it on with
// `setPair` (to show a copy's progress, a duplex pair, a secondary, a suspension and its reason).

import { GsnapError } from "../errors/gsnap-error.js";
import type {
  EstablishPairRequest,
  PairInfo,
  PairService,
  PairState,
} from "../pprc/pair-service.js";
import { checkEstablishPair, formatRemoteVolume } from "../pprc/pair-spec.js";
import type { Store } from "../store/store.js";

const SINCE = "2026-01-01T00:00:00.000Z";

/** The states a primary can be suspended from: it is copying or in sync. */
const ACTIVE_STATES: readonly PairState[] = ["pending", "duplex"];

/**
 * A duplex sync pair as tests start from: VOLSER in GS0001.01A0 (the API harness's system) to the
 * same VOLSER in GS0002.01B0 (the remote its seeded path reaches), 150 tracks, all copied.
 */
export function examplePair(volser: string, fields: Partial<PairInfo> = {}): PairInfo {
  return {
    volser,
    role: "primary",
    primary: `GS0001.01A0.${volser}`,
    secondary: `GS0002.01B0.${volser}`,
    mode: "sync",
    critical: false,
    state: "duplex",
    since: SINCE,
    tracksTotal: 150,
    tracksOutOfSync: 0,
    tracksToCopy: 150,
    bytesSent: 150 * 57_344,
    rateBytesPerSecond: 0,
    etaSeconds: null,
    ...fields,
  };
}

export class MemoryPairs implements PairService {
  private readonly pairs = new Map<string, PairInfo>();

  /** `serial` is this system's; the store's volumes are the ones that can be primaries. */
  constructor(private readonly system: { serial: string; store: Pick<Store, "listVolumes"> }) {}

  list(): PairInfo[] {
    return [...this.pairs.values()];
  }

  show(volser: string): PairInfo {
    return this.find(volser, "show the pair of");
  }

  /** Sets a pair as the PairManager would report it, replacing any pair of its volume. */
  setPair(info: PairInfo): void {
    this.pairs.set(info.volser, info);
  }

  async establish(request: EstablishPairRequest): Promise<PairInfo> {
    const spec = checkEstablishPair(request);
    const action = `Cannot pair volume "${spec.volser}" with ${request.secondary}`;
    const volume = this.system.store.listVolumes().find((info) => info.volser === spec.volser);
    if (volume === undefined) {
      throw new GsnapError("VOLUME_NOT_FOUND", `${action}: volume "${spec.volser}" does not exist`);
    }
    const existing = this.pairs.get(spec.volser);
    if (existing !== undefined) {
      throw new GsnapError(
        "PAIR_EXISTS",
        `${action}: it is already the ${existing.role} of a pair; terminate that pair first`,
      );
    }
    const pair = examplePair(spec.volser, {
      primary: `${this.system.serial}.${volume.ssid}.${spec.volser}`,
      secondary: formatRemoteVolume(spec.remote),
      mode: spec.mode,
      critical: spec.critical,
      state: "pending",
      since: new Date().toISOString(),
      tracksTotal: volume.trackCount,
      tracksOutOfSync: volume.trackCount,
      tracksToCopy: volume.trackCount,
      bytesSent: 0,
    });
    this.pairs.set(spec.volser, pair);
    return pair;
  }

  async suspend(volser: string): Promise<PairInfo> {
    const pair = this.primaryOf(volser, "suspend");
    if (!ACTIVE_STATES.includes(pair.state)) {
      throw new GsnapError(
        "PAIR_STATE_INVALID",
        `Cannot suspend the pair of volume "${volser}": it is ${pair.state}`,
      );
    }
    return this.move(pair, { state: "suspended", reason: "operator" });
  }

  async resume(volser: string): Promise<PairInfo> {
    const pair = this.primaryOf(volser, "resume");
    if (pair.state !== "suspended") {
      throw new GsnapError(
        "PAIR_STATE_INVALID",
        `Cannot resume the pair of volume "${volser}": it is ${pair.state}, not suspended`,
      );
    }
    // The copy resumed has what is out of sync to send, as the PairManager's does.
    return this.move(pair, {
      state: pair.tracksOutOfSync === 0 ? "duplex" : "pending",
      tracksToCopy: pair.tracksOutOfSync,
    });
  }

  async terminate(volser: string): Promise<void> {
    this.find(volser, "terminate the pair of");
    this.pairs.delete(volser);
  }

  private find(volser: string, action: string): PairInfo {
    const pair = this.pairs.get(volser);
    if (pair === undefined) {
      throw new GsnapError(
        "PAIR_NOT_FOUND",
        `Cannot ${action} volume "${volser}": the volume is in no pair`,
      );
    }
    return pair;
  }

  /** The pair of `volser`, which must be its primary: only the primary suspends and resumes. */
  private primaryOf(volser: string, verb: string): PairInfo {
    const pair = this.find(volser, `${verb} the pair of`);
    if (pair.role !== "primary") {
      throw new GsnapError(
        "PAIR_STATE_INVALID",
        `Cannot ${verb} the pair of volume "${volser}": this is its secondary; ` +
          `${verb} it on the primary, ${pair.primary}`,
      );
    }
    return pair;
  }

  private move(
    pair: PairInfo,
    change: { state: PairState; reason?: "operator"; tracksToCopy?: number | null },
  ): PairInfo {
    const { reason: _reason, ...rest } = pair;
    const moved: PairInfo = { ...rest, ...change, since: new Date().toISOString() };
    this.pairs.set(pair.volser, moved);
    return moved;
  }
}
