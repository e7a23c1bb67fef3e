// The GSC target's reservations (docs/gsc.md, "Reservations"): which job of which peer holds which
// volume or extents here, since when, and when that job last asked anything of this system. A
// reservation belongs to the pair (peer, job): the peer is the serial the link handshake
// authenticated, never a serial a request names. Pure: the times come from the caller, and the
// shell (target-requests.ts) keeps the file and the timer.
//
// Expiry: a job whose last request (a CONTROL naming it, or a pair or track frame for a volume it
// holds) is older than the timeout has lost its source, and its reservations are given back as a
// RELEASE would. The last contact is kept in memory only: after a restart each job starts with a
// full timeout, so a source that comes back with the target still finds what it reserved.

import assert from "node:assert/strict";

export interface Reservation {
  readonly job: string;
  /** The serial of the system whose job it is. */
  readonly peer: string;
  readonly volser: string;
  /** Absent: the whole volume. */
  readonly extents?: string;
  /** The target created it for the job, and deletes it at release. */
  readonly created: boolean;
  /** When it was made, ISO 8601; absent in files written before it existed. */
  readonly since?: string;
}

/** A job of a peer: what a reservation belongs to. */
export interface JobKey {
  readonly peer: string;
  readonly job: string;
}

export interface ReservationView extends Reservation {
  readonly since: string;
  /** The job's last request, ISO 8601. */
  readonly lastContactAt: string;
  /** When the reservation is released unless the job asks something first, ISO 8601. */
  readonly expiresAt: string;
}

function keyOf(key: JobKey): string {
  return `${key.peer}/${key.job}`;
}

export class ReservationTable {
  private reservations: Reservation[];
  /** Last contact in ms since the epoch, by keyOf(job); one entry per job holding something. */
  private readonly contact = new Map<string, number>();

  constructor(reservations: readonly Reservation[], nowMs: number) {
    const since = new Date(nowMs).toISOString();
    this.reservations = reservations.map((r) => (r.since === undefined ? { ...r, since } : r));
    for (const r of this.reservations) this.contact.set(keyOf(r), nowMs);
  }

  all(): readonly Reservation[] {
    return this.reservations;
  }

  add(reservation: Reservation, nowMs: number): Reservation {
    const made = { ...reservation, since: new Date(nowMs).toISOString() };
    this.reservations.push(made);
    this.contact.set(keyOf(made), nowMs);
    return made;
  }

  /** Removes these reservations (as returned by the table); a job left with none is forgotten. */
  remove(gone: readonly Reservation[]): void {
    this.reservations = this.reservations.filter((r) => !gone.includes(r));
    for (const r of gone) {
      if (!this.reservations.some((kept) => keyOf(kept) === keyOf(r))) {
        this.contact.delete(keyOf(r));
      }
    }
  }

  ofJob(key: JobKey): Reservation[] {
    return this.reservations.filter((r) => r.job === key.job && r.peer === key.peer);
  }

  onVolume(volser: string): Reservation[] {
    return this.reservations.filter((r) => r.volser === volser);
  }

  /** A request of the job came: its reservations live on. No effect on a job holding nothing. */
  touch(key: JobKey, nowMs: number): void {
    if (this.contact.has(keyOf(key))) this.contact.set(keyOf(key), nowMs);
  }

  /** A pair or track frame from `peer` for `volser`: every job of the peer holding it lives on. */
  touchVolume(volser: string, peer: string, nowMs: number): void {
    for (const r of this.reservations) {
      if (r.volser === volser && r.peer === peer) this.contact.set(keyOf(r), nowMs);
    }
  }

  /** The jobs whose last contact is `timeoutMs` or more before `nowMs`. */
  expired(nowMs: number, timeoutMs: number): JobKey[] {
    assert.ok(timeoutMs > 0, "a reservation timeout is positive");
    const jobs: JobKey[] = [];
    for (const r of this.reservations) {
      const last = this.contact.get(keyOf(r));
      assert.ok(last !== undefined, "every job holding a reservation has a last contact");
      if (nowMs - last < timeoutMs) continue;
      if (!jobs.some((job) => keyOf(job) === keyOf(r))) jobs.push({ peer: r.peer, job: r.job });
    }
    return jobs;
  }

  /** Every reservation with its job's last contact and expiry, oldest first. */
  view(timeoutMs: number): ReservationView[] {
    return this.reservations.map((r) => {
      const last = this.contact.get(keyOf(r));
      assert.ok(last !== undefined, "every job holding a reservation has a last contact");
      assert.ok(r.since !== undefined, "the table gives every reservation its since");
      return {
        ...r,
        since: r.since,
        lastContactAt: new Date(last).toISOString(),
        expiresAt: new Date(last + timeoutMs).toISOString(),
      };
    });
  }
}
