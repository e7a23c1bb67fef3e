// A fake peer against a real `gsnap serve` that is the secondary of a pair: one with the wrong
// secret is refused and logged; one with the secret but another serial (not the pair's primary)
// has every track and pair request refused; garbage and oversized frames close its connection.
// Through all of it the secondary's data and pair do not change, and the server keeps serving.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { connectLink } from "../src/link/connect-link.js";
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FrameType,
  NackReason,
  WirePairMode,
  WirePairState,
  WireSuspendReason,
} from "../src/link/frame-types.js";
import { trackChecksum } from "../src/link/track-checksum.js";
import { codeOfAsync } from "../src/testing/error-code.js";
import { missingNbdClientsNoticed } from "../src/testing/nbd-clients.js";
import {
  establishPair,
  establishPath,
  exportsIdentical as identical,
  LINK_SECRET,
  cliOk as ok,
  pairInfo,
  servedSystems,
  TRACK,
  writePattern as write,
} from "../src/testing/replication-process.js";
import { CLI_PATH } from "../src/testing/serve-process.js";

const systems = servedSystems();
afterAll(() => systems.cleanup());

/** Sends raw bytes to the link port and resolves when the server closes the connection. */
function closedAfter(address: string, bytes: Buffer): Promise<void> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port: Number(port) }, () => socket.write(bytes));
    socket.on("error", () => {});
    socket.on("close", () => resolve());
    setTimeout(() => reject(new Error("the server kept the connection")), 15_000).unref();
  });
}

const skip = !fs.existsSync(CLI_PATH) || missingNbdClientsNoticed("fake peer").length > 0;

describe.skipIf(skip)("a fake peer against a pair's secondary", () => {
  it("is refused without the secret, and with it changes nothing it is not the primary of", async () => {
    const b = await systems.serve("0000000002", "01B0");
    const a = await systems.serve("0000000001", "01A0");
    for (const volser of ["VOL001", "VOL002"]) {
      await ok(a, "volume", "create", volser, "--cylinders", "2");
      await ok(b, "volume", "create", volser, "--cylinders", "2");
    }
    await write(a.nbdUri("VOL001"), 0, 4 * TRACK, 0x42);
    const bLink = b.linkAddress as string;
    await establishPath(a, { ssid: "01A0", target: "0000000002.01B0", link: bLink });
    await establishPair(a, { volser: "VOL001", secondary: "0000000002.01B0.VOL001", mode: "sync" });
    const [host, port] = bLink.split(":");
    const target = { host, port: Number(port), expectSerial: "0000000002" };

    // The wrong secret: refused, and the server says so in its log.
    const wrong = await codeOfAsync(() =>
      connectLink({ ...target, secret: "not-the-secret", serial: "0000000009" }),
    );
    expect(wrong).toBe("LINK_AUTH_FAILED");
    await expect.poll(() => b.output(), { timeout: 5_000 }).toMatch(/LINK_AUTH_FAILED/);

    // The secret, but not the primary: every request about the volumes is refused.
    const fake = await connectLink({
      ...target,
      secret: LINK_SECRET,
      serial: "0000000009",
      ssids: ["01A0"],
    });
    const data = randomBytes(TRACK);
    const track = (volser: string) => ({
      type: "TRACK_DATA" as const,
      volser,
      trackNumber: 0,
      checksum: trackChecksum(data),
      data,
    });
    expect(await fake.request(track("VOL001"))).toMatchObject({
      type: "NACK",
      reason: NackReason.NOT_PAIRED,
    });
    expect(await fake.request(track("VOL002"))).toMatchObject({
      type: "NACK",
      reason: NackReason.NOT_PAIRED,
    });
    expect(
      await fake.request({ type: "TRACK_ZERO", volser: "VOL001", trackNumber: 1 }),
    ).toMatchObject({
      type: "NACK",
      reason: NackReason.NOT_PAIRED,
    });
    expect(
      await fake.request({
        type: "PAIR_STATE",
        secondaryVolser: "VOL001",
        state: WirePairState.simplex,
        reason: WireSuspendReason.none,
      }),
    ).toMatchObject({ type: "NACK", reason: NackReason.NOT_PAIRED });
    const open = {
      type: "PAIR_OPEN" as const,
      primarySsid: "01A0",
      primaryVolser: "FAKE01",
      secondarySsid: "01B0",
      secondaryVolser: "VOL001",
      mode: WirePairMode.copy,
      trackCount: 30,
      trackSizeBytes: TRACK,
      options: 0,
    };
    expect(await fake.request(open)).toMatchObject({
      type: "NACK",
      reason: NackReason.PAIR_EXISTS,
    });
    expect(
      await fake.request({ ...open, secondaryVolser: "VOL002", trackCount: 31 }),
    ).toMatchObject({
      type: "NACK",
      reason: NackReason.GEOMETRY_MISMATCH,
    });
    expect(await fake.request({ ...open, secondaryVolser: "NOPE01" })).toMatchObject({
      type: "NACK",
      reason: NackReason.VOLUME_NOT_FOUND,
    });
    fake.close();

    // Garbage, and a header that announces an oversized payload: the connection closes.
    await closedAfter(bLink, randomBytes(4096));
    const oversized = Buffer.alloc(FRAME_HEADER_BYTES);
    oversized.writeUInt32BE(FRAME_MAGIC, 0);
    oversized.writeUInt8(1, 4);
    oversized.writeUInt8(FrameType.HELLO, 5);
    oversized.writeUInt32BE(0x7fff_ffff, 12);
    await closedAfter(bLink, oversized);

    // Nothing changed: the pair is as it was, the data identical, and the server serves.
    expect(await pairInfo(b, "VOL001")).toMatchObject({
      role: "secondary",
      primary: "0000000001.01A0.VOL001",
    });
    expect(JSON.parse(await ok(b, "pair", "list", "--json"))).toHaveLength(1);
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
    expect(JSON.parse(await ok(b, "volume", "show", "VOL002", "--json")).allocatedTracks).toBe(0);
    await write(a.nbdUri("VOL001"), 8 * TRACK, 4096, 0x43);
    expect(await identical(a.nbdUri("VOL001"), b.nbdUri("VOL001"))).toBe(true);
  });
});
