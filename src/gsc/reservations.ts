// The GSC target's reservations as the system keeps them: the table (reservation-table.ts) in
// DATA_DIR/gsc-reservations.json, written on every change, so that a job the source cleans up
// after a crash of either side still finds what it must give back. Changes run one after another.
// Giving a job's reservations back terminates a pair the job left on a reserved volume and deletes
// the volumes the target created for it; that happens at the job's RELEASE (target-requests.ts),
// when the job has asked nothing for the timeout, or when an administrator releases a volume
// (API /v1/reservations, `gsnap reservation release`).

import path from "node:path";
import { GsnapError, isGsnapError } from "../errors/gsnap-error.js";
import { type LinkLogger, silentLinkLogger } from "../link/link-logger.js";
import { readJsonFile, writeJsonFile } from "../pprc/json-file.js";
import type { PairManager } from "../pprc/pair-manager.js";
import type { Store } from "../store/store.js";
import {
  type JobKey,
  type Reservation,
  ReservationTable,
  type ReservationView,
} from "./reservation-table.js";

export const RESERVATION_FILE_NAME = "gsc-reservations.json";

/** The default: see DEFAULT_RESERVATION_TIMEOUT_SECONDS (daemon/peers-config.ts) for why. */
const DEFAULT_TIMEOUT_MS = 3_600_000;
/**
 * Expiry is looked for four times a timeout, so a reservation outlives its timeout by a quarter at
 * most; at least once a minute, and at most every 250 ms (for a test's short timeout).
 */
const MAX_EXPIRY_CHECK_MS = 60_000;
const MIN_EXPIRY_CHECK_MS = 250;

export interface ReservationsOptions {
  readonly dataDir: string;
  readonly store: Store;
  /** What giving back needs of the pairs: a pair left on a reserved volume is terminated. */
  readonly pairs: Pick<PairManager, "isSecondary" | "terminate">;
  /** A job's reservations are released this long after its last request. */
  readonly timeoutMs?: number;
  readonly logger?: LinkLogger;
}

/** What giving reservations back did: the volumes deleted, and those left part old, part new. */
export interface GivenBack {
  readonly deleted: string[];
  readonly inconsistent: string[];
}

export class Reservations {
  private table = new ReservationTable([], Date.now());
  /** Changes one after another: each writes the reservations whole. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly file: string;
  readonly timeoutMs: number;
  private readonly logger: LinkLogger;
  private expiryTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: ReservationsOptions) {
    this.file = path.join(options.dataDir, RESERVATION_FILE_NAME);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = options.logger ?? silentLinkLogger;
  }

  static async open(options: ReservationsOptions): Promise<Reservations> {
    const kept = new Reservations(options);
    const file = (await readJsonFile(kept.file)) as { reservations?: Reservation[] } | undefined;
    kept.table = new ReservationTable(file?.reservations ?? [], Date.now());
    const everyMs = Math.min(
      MAX_EXPIRY_CHECK_MS,
      Math.max(MIN_EXPIRY_CHECK_MS, kept.timeoutMs / 4),
    );
    kept.expiryTimer = setInterval(() => void kept.expire(), everyMs);
    kept.expiryTimer.unref();
    return kept;
  }

  /** Stops looking for expired reservations; the file keeps them for the next start. */
  async close(): Promise<void> {
    clearInterval(this.expiryTimer);
    await this.queue;
  }

  /** Runs `change` after every change before it, and before any after it. */
  exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.queue.then(change);
    this.queue = run.catch(() => {});
    return run;
  }

  /** The reservations now; the caller reads, and changes through add and giveBack. */
  get current(): ReservationTable {
    return this.table;
  }

  /** Records a reservation, durably, before the caller acts on it. */
  async add(reservation: Reservation): Promise<Reservation> {
    const made = this.table.add(reservation, Date.now());
    await this.save();
    return made;
  }

  /** Drops reservations without giving anything back (a RESERVE whose volume was not made). */
  async drop(reservations: readonly Reservation[]): Promise<void> {
    this.table.remove(reservations);
    await this.save();
  }

  /** Every reservation, with its job's last request and when it expires. */
  list(): ReservationView[] {
    return this.table.view(this.timeoutMs);
  }

  /**
   * An administrator gives back every reservation on `volser`, as the jobs' RELEASE would
   * (RESERVATION_NOT_FOUND when there is none): for a job whose source is gone for good.
   */
  releaseVolume(volser: string): Promise<{ released: Reservation[]; deleted: string[] }> {
    return this.exclusive(async () => {
      const held = this.table.onVolume(volser);
      if (held.length === 0) {
        throw new GsnapError(
          "RESERVATION_NOT_FOUND",
          `Cannot release ${volser}: no job holds a reservation of it here`,
        );
      }
      const { deleted } = await this.giveBack(held);
      this.logger.warn(
        { volser, jobs: held.map((r) => `${r.job} of ${r.peer}`), deleted },
        "reservation released by an administrator",
      );
      return { released: held, deleted };
    });
  }

  /** Terminates pairs left on, and deletes volumes created for, these reservations; drops them. */
  async giveBack(held: readonly Reservation[]): Promise<GivenBack> {
    const deleted: string[] = [];
    const inconsistent: string[] = [];
    for (const reservation of held) {
      // A pair the job left behind (its primary crashed or could not tell us) ends here.
      if (this.options.pairs.isSecondary(reservation.volser)) {
        await this.options.pairs.terminate(reservation.volser);
      }
      if (reservation.created) {
        try {
          await this.options.store.deleteVolume(reservation.volser);
          deleted.push(reservation.volser);
        } catch (error) {
          if (!isGsnapError(error) || error.code !== "VOLUME_NOT_FOUND") throw error;
        }
      } else if (this.isInconsistent(reservation.volser)) {
        inconsistent.push(reservation.volser);
      }
    }
    await this.drop(held);
    return { deleted, inconsistent };
  }

  private isInconsistent(volser: string): boolean {
    const volume = this.options.store.listVolumes().find((v) => v.volser === volser);
    return volume?.inconsistent !== undefined;
  }

  /** Releases the jobs that have asked nothing for the timeout, one after another. */
  private expire(): Promise<void> {
    return this.exclusive(async () => {
      for (const key of this.table.expired(Date.now(), this.timeoutMs)) {
        await this.expireJob(key);
      }
    });
  }

  private async expireJob(key: JobKey): Promise<void> {
    const held = this.table.ofJob(key);
    try {
      const { deleted } = await this.giveBack(held);
      this.logger.warn(
        { peerSerial: key.peer, job: key.job, volsers: held.map((r) => r.volser), deleted },
        `reservations of job ${key.job} of system ${key.peer} expired: no request of it for ${this.timeoutMs / 1000} s`,
      );
    } catch (error) {
      // Tried again at the next look: a store that failed now may not then.
      this.logger.warn({ peerSerial: key.peer, job: key.job, err: String(error) }, "expiry failed");
    }
  }

  private save(): Promise<void> {
    return writeJsonFile(this.file, { format: 1, reservations: this.table.all() });
  }
}
