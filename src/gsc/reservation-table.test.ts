import { describe, expect, it } from "vitest";
import { ReservationTable } from "./reservation-table.js";

const HOUR = 3_600_000;
const reservation = (job: string, peer: string, volser: string) => ({
  job,
  peer,
  volser,
  created: false,
});

describe("reservation table", () => {
  it("expires a job only after the timeout without a request of it", () => {
    const table = new ReservationTable([], 0);
    table.add(reservation("J000001", "0000000001", "VOL900"), 0);
    table.add(reservation("J000002", "0000000001", "VOL901"), 0);
    table.touch({ peer: "0000000001", job: "J000002" }, HOUR - 1);
    expect(table.expired(HOUR - 1, HOUR)).toEqual([]);
    expect(table.expired(HOUR, HOUR)).toEqual([{ peer: "0000000001", job: "J000001" }]);
  });

  it("keeps a job alive by its volume's pair and track frames from its own peer only", () => {
    const table = new ReservationTable([], 0);
    table.add(reservation("J000001", "0000000001", "VOL900"), 0);
    table.touchVolume("VOL900", "0000000002", HOUR);
    expect(table.expired(HOUR, HOUR)).toHaveLength(1);
    table.touchVolume("VOL900", "0000000001", HOUR);
    expect(table.expired(HOUR, HOUR)).toEqual([]);
  });

  it("tells the same job id of two systems apart", () => {
    const table = new ReservationTable([], 0);
    table.add(reservation("J000001", "0000000001", "VOL900"), 0);
    table.add(reservation("J000001", "0000000003", "VOL901"), 0);
    table.touch({ peer: "0000000003", job: "J000001" }, HOUR);
    expect(table.expired(HOUR, HOUR)).toEqual([{ peer: "0000000001", job: "J000001" }]);
    expect(table.ofJob({ peer: "0000000003", job: "J000001" }).map((r) => r.volser)).toEqual([
      "VOL901",
    ]);
  });

  it("gives reservations read from an older file a since, and every job a full timeout from the start", () => {
    const table = new ReservationTable([reservation("J000001", "0000000001", "VOL900")], HOUR);
    expect(table.expired(2 * HOUR - 1, HOUR)).toEqual([]);
    expect(table.view(HOUR)).toEqual([
      {
        ...reservation("J000001", "0000000001", "VOL900"),
        since: new Date(HOUR).toISOString(),
        lastContactAt: new Date(HOUR).toISOString(),
        expiresAt: new Date(2 * HOUR).toISOString(),
      },
    ]);
  });

  it("forgets a job once its last reservation is removed", () => {
    const table = new ReservationTable([], 0);
    const made = table.add(reservation("J000001", "0000000001", "VOL900"), 0);
    table.remove([made]);
    table.touch({ peer: "0000000001", job: "J000001" }, 10);
    expect(table.all()).toEqual([]);
    expect(table.expired(HOUR, HOUR)).toEqual([]);
  });
});
