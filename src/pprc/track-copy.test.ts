// The copy engine end to end: two real stores, a real link on 127.0.0.1, sendTracks on one side
// and receiveTracks on the other. Volumes must end identical byte for byte, zero tracks unmapped,
// through damaged frames and failed connections; refusals must change nothing.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GsnapError } from "../errors/gsnap-error.js";
import { connectLink } from "../link/connect-link.js";
import { NackReason } from "../link/frame-types.js";
import type { LinkConnection, RequestBody } from "../link/link-connection.js";
import { listenLink } from "../link/link-listener.js";
import { silentLinkLogger } from "../link/link-logger.js";
import { trackChecksum } from "../link/track-checksum.js";
import { Store } from "../store/store.js";
import { codeOfAsync } from "../testing/error-code.js";
import { gate } from "../testing/gate.js";
import { rangeSource } from "./track-feed.js";
import { receiveTracks } from "./track-receiver.js";
import type { TrackLink } from "./track-requests.js";
import { sendTracks } from "./track-sender.js";

const SECRET = "track copy test secret";
const CYLINDERS = 20;
const TRACK_SIZE_BYTES = 16_384;
const TRACKS = CYLINDERS * 15;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openStore(): Promise<Store> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-copy-"));
  const store = await Store.open(dir, { collectorIntervalMs: false });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.close());
  return store;
}

interface Sites {
  readonly source: Store;
  readonly target: Store;
  readonly connections: LinkConnection[];
}

/** A source volume with a pattern of mapped and unmapped tracks, a target with stale data. */
async function sites(
  connectionCount: number,
  accept = (_volser: string) => true,
  versions: readonly number[] = [1],
): Promise<Sites> {
  const source = await openStore();
  const target = await openStore();
  await source.createVolume({
    volser: "PRI001",
    cylinders: CYLINDERS,
    trackSizeBytes: TRACK_SIZE_BYTES,
  });
  await target.createVolume({
    volser: "SEC001",
    cylinders: CYLINDERS,
    trackSizeBytes: TRACK_SIZE_BYTES,
  });
  for (let track = 0; track < TRACKS; track += 1) {
    const offsetBytes = track * TRACK_SIZE_BYTES;
    // Two tracks of three mapped, the third left unmapped on the source...
    if (track % 3 !== 2) {
      await source.write("PRI001", { offsetBytes, data: randomBytes(TRACK_SIZE_BYTES) });
    } else if (track % 2 === 0) {
      // ...and half of those holding stale data on the target, which the copy must unmap.
      await target.write("SEC001", { offsetBytes, data: randomBytes(TRACK_SIZE_BYTES) });
    }
  }
  const listener = await listenLink({
    host: "127.0.0.1",
    port: 0,
    secret: SECRET,
    serial: "GS00002",
    logger: silentLinkLogger,
    onConnection: (connection) => {
      void receiveTracks({ store: target, connection, accept });
    },
  });
  cleanups.push(() => listener.close());
  const connections: LinkConnection[] = [];
  for (let i = 0; i < connectionCount; i += 1) {
    const connection = await connectLink({
      host: "127.0.0.1",
      port: listener.address.port,
      secret: SECRET,
      serial: "GS00001",
      expectSerial: "GS00002",
      versions,
    });
    cleanups.push(() => connection.close());
    connections.push(connection);
  }
  return { source, target, connections };
}

async function expectIdentical({ source, target }: Sites): Promise<void> {
  const whole = { offsetBytes: 0, lengthBytes: TRACKS * TRACK_SIZE_BYTES };
  const sourceBytes = await source.read("PRI001", whole);
  const targetBytes = await target.read("SEC001", whole);
  expect(targetBytes.equals(sourceBytes)).toBe(true);
  const all = { firstTrack: 0, count: TRACKS };
  expect(target.allocation("SEC001", all)).toEqual(source.allocation("PRI001", all));
}

function copy(site: Sites, connections: readonly TrackLink[] = site.connections) {
  return sendTracks({
    store: site.source,
    sourceVolser: "PRI001",
    targetVolser: "SEC001",
    source: rangeSource([{ firstTrack: 0, count: TRACKS }]),
    connections,
  });
}

/**
 * A connection that closes itself (destroying its socket) after `acks` acknowledgements. Replies
 * that were already on their way when it closed are lost with it, as they are when a real link
 * drops: their tracks may be stored at the target, but the sender never learns it.
 */
function failingAfter(
  connection: LinkConnection,
  acks: number,
  options: { batches?: boolean } = {},
): TrackLink {
  let seen = 0;
  return {
    get isClosed() {
      return connection.isClosed;
    },
    get carriesBatches() {
      return options.batches === true;
    },
    request: async (body: RequestBody) => {
      const reply = await connection.request(body);
      seen += 1;
      if (seen === acks) connection.close("LINK_DOWN", "Link dropped by the test");
      if (seen > acks) throw new GsnapError("LINK_DOWN", "Link dropped by the test");
      return reply;
    },
  };
}

describe("sendTracks and receiveTracks, one track per request (protocol version 1)", () => {
  it("copy a volume over two connections, identical, with zero tracks left unmapped", async () => {
    const site = await sites(2);
    const carried = [0, 0];
    let inFlight = 0;
    let peakInFlight = 0;
    const counting = site.connections.map(
      (connection, index): TrackLink => ({
        get isClosed() {
          return connection.isClosed;
        },
        request: async (body: RequestBody) => {
          carried[index] += 1;
          inFlight += 1;
          peakInFlight = Math.max(peakInFlight, inFlight);
          try {
            return await connection.request(body);
          } finally {
            inFlight -= 1;
          }
        },
      }),
    );
    const result = await copy(site, counting);
    const zeroTracks = TRACKS / 3;
    expect(result).toEqual({
      tracksSent: TRACKS,
      bytesSent: (TRACKS - zeroTracks) * TRACK_SIZE_BYTES,
      zeroTracks,
      resent: 0,
    });
    await expectIdentical(site);
    expect(site.target.showVolume("SEC001").allocatedTracks).toBe(TRACKS - zeroTracks);
    expect(carried[0]).toBeGreaterThan(0);
    expect(carried[1]).toBeGreaterThan(0);
    expect(carried[0] + carried[1]).toBe(TRACKS);
    expect(peakInFlight).toBeGreaterThan(2);
  });

  it("reports progress once per acknowledged track", async () => {
    const site = await sites(1);
    const seen: number[] = [];
    await sendTracks({
      store: site.source,
      sourceVolser: "PRI001",
      targetVolser: "SEC001",
      source: rangeSource([
        { firstTrack: 10, count: 20 },
        { firstTrack: 100, count: 0 },
        { firstTrack: 200, count: 5 },
      ]),
      connections: site.connections,
      onProgress: (progress) => {
        expect(progress.tracksTotal).toBe(25);
        seen.push(progress.tracksSent);
      },
    });
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it("sends a track again when the target finds it damaged, and the target ends identical", async () => {
    const site = await sites(2);
    const [connection] = site.connections;
    let damaged = 0;
    const damaging: TrackLink = {
      get isClosed() {
        return connection.isClosed;
      },
      request: (body: RequestBody) => {
        if (body.type !== "TRACK_DATA" || damaged > 0) return connection.request(body);
        damaged += 1;
        return connection.request({ ...body, checksum: body.checksum ^ 1n });
      },
    };
    const result = await copy(site, [damaging, site.connections[1]]);
    expect(damaged).toBe(1);
    expect(result.resent).toBe(1);
    expect(result.tracksSent).toBe(TRACKS);
    await expectIdentical(site);
  });

  it("fails with LINK_PROTOCOL when a track arrives damaged every time", async () => {
    const site = await sites(1);
    const [connection] = site.connections;
    const damaging: TrackLink = {
      get isClosed() {
        return connection.isClosed;
      },
      request: (body: RequestBody) =>
        connection.request(body.type === "TRACK_DATA" ? { ...body, checksum: 0n } : body),
    };
    expect(await codeOfAsync(() => copy(site, [damaging]))).toBe("LINK_PROTOCOL");
  });

  it("moves the work of a failed connection to the other and still ends identical", async () => {
    const site = await sites(2);
    const [first, second] = site.connections;
    const result = await copy(site, [failingAfter(first, 40), second]);
    expect(first.isClosed).toBe(true);
    expect(result.tracksSent).toBe(TRACKS);
    // Tracks in flight on the failed connection went again on the other.
    expect(result.resent).toBeGreaterThan(0);
    expect(result.zeroTracks).toBe(TRACKS / 3);
    await expectIdentical(site);
  });

  it("fails with LINK_DOWN naming the tracks done when every connection fails", async () => {
    const site = await sites(2);
    const [first, second] = site.connections;
    const copying = copy(site, [failingAfter(first, 30), failingAfter(second, 50)]);
    await expect(copying).rejects.toMatchObject({
      code: "LINK_DOWN",
      message: expect.stringMatching(/every connection failed after \d+ of 300 tracks/),
    });
  });

  it("stops at once when aborted while lanes wait for the bandwidth cap", async () => {
    const site = await sites(1);
    const abort = new AbortController();
    const reason = new Error("stopped by the test");
    const firstSent = gate();
    let dataTracksSent = 0;
    const copying = sendTracks({
      store: site.source,
      sourceVolser: "PRI001",
      targetVolser: "SEC001",
      source: rangeSource([{ firstTrack: 0, count: TRACKS }]),
      connections: site.connections,
      signal: abort.signal,
      // One track an hour: once the first went, every lane has booked an hour or more of waiting,
      // so only an abort that ends the waits lets the copy end within the test's timeout.
      bytesPerSecond: TRACK_SIZE_BYTES / 3600,
      onAcknowledged: (_track, bytes) => {
        if (bytes === 0) return; // unmapped tracks carry no data and wait for no cap
        dataTracksSent += 1;
        firstSent.open();
      },
    });
    await firstSent.until; // the first data track went; the other lanes wait their turn
    abort.abort(reason);
    await expect(copying).rejects.toBe(reason);
    // Only the first track with data went: every other one was still waiting its turn.
    expect(dataTracksSent).toBe(1);
  });

  it("fails with LINK_DOWN when given no connection", async () => {
    const site = await sites(0);
    expect(await codeOfAsync(() => copy(site, []))).toBe("LINK_DOWN");
  });

  it("fails with the store's error when the source volume does not exist", async () => {
    const site = await sites(1);
    const copying = sendTracks({
      store: site.source,
      sourceVolser: "NOPE01",
      targetVolser: "SEC001",
      source: rangeSource([{ firstTrack: 0, count: 1 }]),
      connections: site.connections,
    });
    expect(await codeOfAsync(() => copying)).toBe("VOLUME_NOT_FOUND");
  });

  it("fails with PAIR_NOT_FOUND when the target volume is in no pair with the sender, storing nothing", async () => {
    const site = await sites(1, () => false);
    const before = site.target.allocation("SEC001", { firstTrack: 0, count: TRACKS });
    expect(await codeOfAsync(() => copy(site))).toBe("PAIR_NOT_FOUND");
    expect(site.target.allocation("SEC001", { firstTrack: 0, count: TRACKS })).toEqual(before);
  });

  it("fails with VOLUME_READ_ONLY when the target volume refuses writes (NACK busy)", async () => {
    const site = await sites(1);
    await site.target.setReadOnly("SEC001", true);
    const whole = { offsetBytes: 0, lengthBytes: TRACKS * TRACK_SIZE_BYTES };
    const before = await site.target.read("SEC001", whole);
    expect(await codeOfAsync(() => copy(site))).toBe("VOLUME_READ_ONLY");
    expect((await site.target.read("SEC001", whole)).equals(before)).toBe(true);
  });
});

describe("receiveTracks refusals", () => {
  it("answers NACK and changes nothing for an unknown volume, a wrong length or a track past the end", async () => {
    const site = await sites(1, (volser) => volser !== "SEC002");
    await site.target.createVolume({ volser: "SEC002", cylinders: 1 });
    const [connection] = site.connections;
    const whole = { offsetBytes: 0, lengthBytes: TRACKS * TRACK_SIZE_BYTES };
    const bytesBefore = await site.target.read("SEC001", whole);
    const data = randomBytes(TRACK_SIZE_BYTES);
    const track = (volser: string, trackNumber: number, bytes: Buffer): RequestBody => ({
      type: "TRACK_DATA",
      volser,
      trackNumber,
      checksum: 0n,
      data: bytes,
    });
    const send = async (body: RequestBody) => {
      const withChecksum =
        body.type === "TRACK_DATA" ? { ...body, checksum: trackChecksum(body.data) } : body;
      return connection.request(withChecksum);
    };
    const nack = (reason: number) => ({ type: "NACK", reason });
    expect(await send(track("NOPE01", 0, data))).toMatchObject(nack(NackReason.VOLUME_NOT_FOUND));
    expect(await send({ type: "TRACK_ZERO", volser: "NOPE01", trackNumber: 0 })).toMatchObject(
      nack(NackReason.VOLUME_NOT_FOUND),
    );
    // Not in a pair with the sender.
    expect(await send(track("SEC002", 0, randomBytes(57_344)))).toMatchObject(
      nack(NackReason.NOT_PAIRED),
    );
    expect(await send(track("SEC001", 0, data.subarray(0, 4096)))).toMatchObject(
      nack(NackReason.TRACK_OUT_OF_RANGE),
    );
    expect(await send(track("SEC001", 0, Buffer.concat([data, data])))).toMatchObject(
      nack(NackReason.TRACK_OUT_OF_RANGE),
    );
    expect(await send(track("SEC001", TRACKS, data))).toMatchObject(
      nack(NackReason.TRACK_OUT_OF_RANGE),
    );
    expect(await send({ type: "TRACK_ZERO", volser: "SEC001", trackNumber: TRACKS })).toMatchObject(
      nack(NackReason.TRACK_OUT_OF_RANGE),
    );
    expect((await site.target.read("SEC001", whole)).equals(bytesBefore)).toBe(true);
    expect(site.target.showVolume("SEC002").allocatedTracks).toBe(0);
    // The connection still serves good requests afterwards.
    expect(await send(track("SEC001", 1, data))).toMatchObject({ type: "ACK" });
    expect(await send({ type: "PING" })).toMatchObject({ type: "PONG" });
  });
});

/** Wraps a connection that carries batches, watching each request it sends. */
function watching(
  connection: LinkConnection,
  watch: (body: RequestBody) => RequestBody,
): TrackLink {
  return {
    get isClosed() {
      return connection.isClosed;
    },
    carriesBatches: true,
    request: (body: RequestBody) => connection.request(watch(body)),
  };
}

describe("sendTracks and receiveTracks, many tracks per request (protocol version 2)", () => {
  const batchSites = (count: number) => sites(count, () => true, [1, 2]);

  it("copies a volume in TRACK_BATCH requests over two connections, identical, zero tracks unmapped", async () => {
    const site = await batchSites(2);
    expect(site.connections.every((connection) => connection.carriesBatches)).toBe(true);
    const sizes: number[] = [];
    const counting = site.connections.map((connection) =>
      watching(connection, (body) => {
        expect(body.type).toBe("TRACK_BATCH");
        if (body.type === "TRACK_BATCH") sizes.push(body.tracks.length);
        return body;
      }),
    );
    const result = await copy(site, counting);
    const zeroTracks = TRACKS / 3;
    expect(result).toEqual({
      tracksSent: TRACKS,
      bytesSent: (TRACKS - zeroTracks) * TRACK_SIZE_BYTES,
      zeroTracks,
      resent: 0,
    });
    // 300 tracks in batches of at most 64: five requests, not 300.
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(TRACKS);
    expect(sizes.length).toBe(Math.ceil(TRACKS / 64));
    await expectIdentical(site);
    expect(site.target.showVolume("SEC001").allocatedTracks).toBe(TRACKS - zeroTracks);
  });

  it("sends runs that a source gives out of order (a bitmap wrapping around) in increasing order", async () => {
    const site = await batchSites(1);
    const result = await sendTracks({
      store: site.source,
      sourceVolser: "PRI001",
      targetVolser: "SEC001",
      source: rangeSource([
        { firstTrack: 280, count: 20 },
        { firstTrack: 0, count: 30 },
      ]),
      connections: site.connections,
    });
    expect(result.tracksSent).toBe(50);
    const size = TRACK_SIZE_BYTES;
    for (const [first, count] of [
      [280, 20],
      [0, 30],
    ]) {
      const range = { offsetBytes: first * size, lengthBytes: count * size };
      const [source, target] = await Promise.all([
        site.source.read("PRI001", range),
        site.target.read("SEC001", range),
      ]);
      expect(target.equals(source)).toBe(true);
    }
  });

  it("sends again only the track of a batch that the target found damaged", async () => {
    const site = await batchSites(1);
    const [connection] = site.connections;
    const batches: number[] = [];
    let damaged = false;
    const damaging = watching(connection, (body) => {
      if (body.type !== "TRACK_BATCH") return body;
      batches.push(body.tracks.length);
      if (damaged) return body;
      damaged = true;
      const victim = body.tracks.findIndex((track) => track.data !== undefined);
      const tracks = body.tracks.map((track, index) =>
        index === victim ? { ...track, checksum: track.checksum ^ 1n } : track,
      );
      return { ...body, tracks };
    });
    const result = await copy(site, [damaging]);
    expect(result.resent).toBe(1);
    expect(result.tracksSent).toBe(TRACKS);
    // The damaged track went again in a batch of its own; every other track went once.
    expect(batches.filter((size) => size === 1)).toHaveLength(1);
    expect(batches.reduce((sum, size) => sum + size, 0)).toBe(TRACKS + 1);
    await expectIdentical(site);
  });

  it("fails with LINK_PROTOCOL when a track of a batch arrives damaged every time", async () => {
    const site = await batchSites(1);
    const damaging = watching(site.connections[0], (body) => {
      if (body.type !== "TRACK_BATCH") return body;
      return {
        ...body,
        tracks: body.tracks.map((track) =>
          track.data === undefined ? track : { ...track, checksum: track.checksum ^ 1n },
        ),
      };
    });
    expect(await codeOfAsync(() => copy(site, [damaging]))).toBe("LINK_PROTOCOL");
  });

  it("fails with LINK_PROTOCOL when the target's answer to a batch names a track it does not hold", async () => {
    const site = await batchSites(1);
    const [connection] = site.connections;
    const lying: TrackLink = {
      get isClosed() {
        return connection.isClosed;
      },
      carriesBatches: true,
      request: async (body: RequestBody) => {
        await connection.request(body);
        return { type: "BATCH_NACK", requestId: 1, refusals: [{ index: 999, reason: 1 }] };
      },
    };
    expect(await codeOfAsync(() => copy(site, [lying]))).toBe("LINK_PROTOCOL");
  });

  it("moves the batches of a failed connection to the other and still ends identical", async () => {
    const site = await batchSites(2);
    const [first, second] = site.connections;
    const result = await copy(site, [failingAfter(first, 1, { batches: true }), second]);
    expect(first.isClosed).toBe(true);
    expect(result.tracksSent).toBe(TRACKS);
    expect(result.resent).toBeGreaterThan(0);
    expect(result.zeroTracks).toBe(TRACKS / 3);
    await expectIdentical(site);
  });

  it("fails with LINK_DOWN naming the tracks done when every connection fails", async () => {
    const site = await batchSites(2);
    const [first, second] = site.connections;
    const copying = copy(site, [
      failingAfter(first, 1, { batches: true }),
      failingAfter(second, 1, { batches: true }),
    ]);
    await expect(copying).rejects.toMatchObject({
      code: "LINK_DOWN",
      message: expect.stringMatching(/every connection failed after \d+ of 300 tracks/),
    });
  });
});

describe("receiveTracks refusals of a batch", () => {
  it("stores the sound tracks of a batch and names the refused ones in BATCH_NACK", async () => {
    const site = await sites(1, (volser) => volser !== "SEC002", [1, 2]);
    const [connection] = site.connections;
    const data = randomBytes(TRACK_SIZE_BYTES);
    const other = randomBytes(TRACK_SIZE_BYTES);
    const sound = (trackNumber: number, bytes: Buffer) => ({
      trackNumber,
      checksum: trackChecksum(bytes),
      data: bytes,
    });
    const reply = await connection.request({
      type: "TRACK_BATCH",
      volser: "SEC001",
      tracks: [
        sound(0, data),
        // Damaged on the way: its checksum does not match.
        { trackNumber: 1, checksum: trackChecksum(data) ^ 1n, data },
        // Bytes that do not fit the volume's track.
        sound(2, data.subarray(0, 4096)),
        { trackNumber: 3, checksum: 0n, data: undefined },
        sound(4, other),
        sound(TRACKS, data),
      ],
    });
    expect(reply).toEqual({
      type: "BATCH_NACK",
      requestId: expect.any(Number),
      refusals: [
        { index: 1, reason: NackReason.CHECKSUM_MISMATCH },
        { index: 2, reason: NackReason.TRACK_OUT_OF_RANGE },
        { index: 5, reason: NackReason.TRACK_OUT_OF_RANGE },
      ],
    });
    const read = (track: number) =>
      site.target.read("SEC001", {
        offsetBytes: track * TRACK_SIZE_BYTES,
        lengthBytes: TRACK_SIZE_BYTES,
      });
    expect((await read(0)).equals(data)).toBe(true);
    expect((await read(4)).equals(other)).toBe(true);
    expect(site.target.allocation("SEC001", { firstTrack: 3, count: 1 })[0].mapped).toBe(false);
    expect((await read(1)).equals(data)).toBe(false);
    // A batch for a volume in no pair, or one that does not exist, is refused whole.
    const one = [sound(0, data)];
    expect(
      await connection.request({ type: "TRACK_BATCH", volser: "SEC002", tracks: one }),
    ).toMatchObject({ type: "NACK", reason: NackReason.NOT_PAIRED });
    expect(
      await connection.request({ type: "TRACK_BATCH", volser: "NOPE01", tracks: one }),
    ).toMatchObject({ type: "NACK", reason: NackReason.VOLUME_NOT_FOUND });
  });
});
