// `npm run demo`: a tour of the storage core for a new user, on a fresh data dir. Each step says
// in plain words what it did and shows the numbers that prove it.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatBytes } from "../cli/output.js";
import { parseExtentList } from "../geometry/address.js";
import { chunkChecksum } from "../store/checksum.js";
import { Store } from "../store/store.js";

const say = (text: string) => process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  const dataDir =
    process.env.GSNAP_DEMO_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-demo-"));
  say(`gsnap demo: the storage core, on a fresh data dir ${dataDir}\n`);
  const store = await Store.open(dataDir);
  try {
    const volume = await store.createVolume({ volser: "VOL001", model: "3390-3" });
    say(
      `1. Created volume VOL001, a 3390-3: ${volume.cylinders.toLocaleString()} cylinders x 15 heads = ` +
        `${volume.trackCount.toLocaleString()} tracks of ${volume.trackSizeBytes.toLocaleString()} bytes ` +
        `(${formatBytes(volume.sizeBytes)}). It is thin: it uses ${formatBytes(store.usage().liveBytes)} until written.`,
    );

    const tracks = 10 * 15;
    const data = Buffer.alloc(tracks * volume.trackSizeBytes);
    for (let i = 0; i < data.length; i += 8) data.writeDoubleLE(Math.sin(i), i);
    await store.write("VOL001", { offsetBytes: 0, data });
    await store.flush();
    say(
      `2. Wrote cylinders 0-9 (${tracks} tracks, ${formatBytes(data.length)}) and flushed them to disk. ` +
        `The store now holds ${formatBytes(store.usage().liveBytes)}.`,
    );

    await store.createVolume({ volser: "VOL002", model: "3390-3" });
    const liveBefore = store.usage().liveBytes;
    const started = process.hrtime.bigint();
    const { tracks: snapped } = await store.snap({
      source: { volser: "VOL001", extents: parseExtentList("0.0-3338.14") },
      target: { volser: "VOL002" },
    });
    const snapMs = Number(process.hrtime.bigint() - started) / 1e6;
    say(
      `3. Snapped all of VOL001 (${snapped.toLocaleString()} tracks) to VOL002 in ${snapMs.toFixed(1)} ms. ` +
        `No data moved: the store still holds ${formatBytes(store.usage().liveBytes)} ` +
        `(${store.usage().liveBytes === liveBefore ? "unchanged" : "changed!"}); both volumes point at the same chunks.`,
    );

    const copy = await store.read("VOL002", { offsetBytes: 0, lengthBytes: data.length });
    say(
      `4. Read VOL002 back: checksum ${chunkChecksum(copy).toString(16)} ` +
        `${copy.equals(data) ? "matches" : "DOES NOT match"} what was written to VOL001.`,
    );

    await store.write("VOL002", { offsetBytes: 0, data: Buffer.alloc(4096, 0x5a) });
    const original = await store.read("VOL001", { offsetBytes: 0, lengthBytes: 4096 });
    const diverged = await store.read("VOL002", { offsetBytes: 0, lengthBytes: 4096 });
    say(
      `5. Wrote 4 KiB to track 0.0 of VOL002. VOL001 is ${original.equals(data.subarray(0, 4096)) ? "unchanged" : "CHANGED"}, ` +
        `VOL002 ${diverged[0] === 0x5a ? "has the new bytes" : "LOST the write"}; only that track got its own chunk: ` +
        `the store now holds ${formatBytes(store.usage().liveBytes)}.`,
    );

    await store.deleteVolume("VOL002");
    await store.collectGarbage();
    say(
      `6. Deleted VOL002; the collector gave its own chunk back: ${formatBytes(store.usage().liveBytes)} held.`,
    );

    const report = await store.check();
    say(
      `7. Checked the store (what \`gsnap fsck\` does): ${report.ok ? "consistent" : "PROBLEMS FOUND"}, ` +
        `${report.chunks} chunks and ${formatBytes(report.checkedBytes)} verified, ` +
        `every reference count recounted.`,
    );
    if (!report.ok) process.exitCode = 1;
  } finally {
    await store.close();
    if (process.env.GSNAP_DEMO_DIR === undefined)
      fs.rmSync(dataDir, { recursive: true, force: true });
  }
  say("\nDone. The store's data dir was temporary and is gone.");
}

await main();
