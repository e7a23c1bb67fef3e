// Crash safety: a worker process runs a random store workload and is SIGKILLed at random moments,
// many times. After each kill the store reopens, the checker passes, and the volumes hold exactly
// what the workload had completed (plus, possibly, the one operation in flight: all of it or none,
// or for a write or zero, all or none of it on each track).

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { S3ObjectStore, type S3ObjectStoreOptions } from "../src/objects/s3-object-store.js";
import { Store } from "../src/store/store.js";
import {
  applyToModel,
  CRASH_TRACK_BYTES,
  CRASH_VOLUMES,
  type CrashModel,
  crashDeviceOptions,
  crashOp,
  emptyModel,
  SCRATCH,
} from "../src/testing/crash-workload.js";
import { s3Available, testS3 } from "../src/testing/s3-test-store.js";

const WORKER = path.resolve("dist/src/testing/crash-worker.js");
const KILLS = Number(process.env.CRASH_KILLS ?? 12);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);

function cloneModel(model: CrashModel): CrashModel {
  return { volumes: model.volumes.map((volume) => Buffer.from(volume)), scratch: model.scratch };
}

function advance(model: CrashModel, from: number, to: number): CrashModel {
  const next = cloneModel(model);
  for (let index = from; index < to; index += 1) applyToModel(next, crashOp(SEED, index), index);
  return next;
}

async function runUntilKilled(
  dataDir: string,
  firstOp: number,
  log: string,
  s3: string,
): Promise<string[]> {
  fs.writeFileSync(log, "");
  const child = spawn(process.execPath, [WORKER, dataDir, String(SEED), String(firstOp), log], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, GSNAP_CRASH_S3: s3 },
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  while (!fs.readFileSync(log, "utf8").includes("READY")) {
    if (child.exitCode !== null) throw new Error(`worker exited early: ${stderr}`);
    await sleep(5);
  }
  await sleep(30 + Math.floor(Math.random() * 400));
  child.kill("SIGKILL");
  await exited;
  if (stderr.trim() !== "") throw new Error(`worker failed before the kill: ${stderr}`);
  return fs.readFileSync(log, "utf8").split("\n");
}

async function matches(store: Store, model: CrashModel): Promise<boolean> {
  for (let i = 0; i < CRASH_VOLUMES.length; i += 1) {
    const actual = await store.read(CRASH_VOLUMES[i].volser, {
      offsetBytes: 0,
      lengthBytes: model.volumes[i].length,
    });
    if (!actual.equals(model.volumes[i])) return false;
  }
  const scratch = store.listVolumes().some((volume) => volume.volser === SCRATCH.volser);
  return scratch === model.scratch;
}

/**
 * The store's state after a write or zero that was in flight, when each track it touches holds
 * either all of its old bytes or all of its new ones (the journal takes the pieces of tracks a
 * write covers in part as records, one per track, and a change maps the tracks it covers whole:
 * like a disk's sectors, an unacknowledged write may land on some tracks and not others);
 * undefined when any track is torn within itself or anything else changed.
 */
async function landedByTrack(
  store: Store,
  before: CrashModel,
  after: CrashModel,
  index: number,
): Promise<CrashModel | undefined> {
  const op = crashOp(SEED, index);
  if (op.kind !== "write" && op.kind !== "zero") return undefined;
  const result = cloneModel(before);
  for (let i = 0; i < CRASH_VOLUMES.length; i += 1) {
    const actual = await store.read(CRASH_VOLUMES[i].volser, {
      offsetBytes: 0,
      lengthBytes: before.volumes[i].length,
    });
    for (let at = 0; at < actual.length; at += CRASH_TRACK_BYTES) {
      const end = at + CRASH_TRACK_BYTES;
      const track = actual.subarray(at, end);
      const old = track.equals(before.volumes[i].subarray(at, end));
      if (!old && !track.equals(after.volumes[i].subarray(at, end))) return undefined;
    }
    result.volumes[i] = actual;
  }
  return result;
}

/** Where the chunks go: local segment files, or Ceph through S3 under a prefix of the run's own. */
function backends(): [string, string][] {
  const list: [string, string][] = [["segment files", ""]];
  if (s3Available()) {
    const s3 = testS3();
    const options: S3ObjectStoreOptions = {
      bucket: s3.bucket,
      prefix: `crash/${randomUUID()}/`,
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    };
    list.push(["Ceph through S3", JSON.stringify(options)]);
  }
  return list;
}

describe.each(backends())("crash safety on %s", (_name, s3) => {
  it.skipIf(!fs.existsSync(WORKER))(
    `reopens consistent with every completed operation after ${KILLS} SIGKILLs (seed ${SEED})`,
    async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-crash-"));
      const log = path.join(dataDir, "..", `${path.basename(dataDir)}.log`);
      let model = emptyModel();
      let opsDone = 0;
      let opsTotal = 0;
      try {
        for (let kill = 0; kill < KILLS; kill += 1) {
          const lines = await runUntilKilled(dataDir, opsDone, log, s3);
          const done = lines
            .filter((line) => line.startsWith("DONE "))
            .map((line) => Number(line.slice(5)));
          const completed = done.length > 0 ? Math.max(...done) + 1 : opsDone;
          const inFlight = lines.includes(`BEGIN ${completed}`);
          const store = await Store.open(dataDir, {
            collectorIntervalMs: false,
            ...crashDeviceOptions(s3),
          });
          try {
            const report = await store.check();
            expect(report.problems, `seed ${SEED}, kill ${kill}`).toEqual([]);
            const acknowledged = advance(model, opsDone, completed);
            if (await matches(store, acknowledged)) {
              model = acknowledged;
              opsDone = completed;
            } else {
              expect(
                inFlight,
                `seed ${SEED}, kill ${kill}: data differs from op ${completed}`,
              ).toBe(true);
              const withInFlight = advance(acknowledged, completed, completed + 1);
              const landed = (await matches(store, withInFlight))
                ? withInFlight
                : await landedByTrack(store, acknowledged, withInFlight, completed);
              expect(
                landed !== undefined,
                `seed ${SEED}, kill ${kill}: op ${completed} half done`,
              ).toBe(true);
              model = landed as CrashModel;
              opsDone = completed + 1;
            }
          } finally {
            await store.close();
          }
          opsTotal = opsDone;
        }
        expect(opsTotal).toBeGreaterThan(KILLS);
        if (s3 !== "") {
          // The kills landed among uploads: segments went to the object store between them.
          const objects = new S3ObjectStore(JSON.parse(s3) as S3ObjectStoreOptions);
          expect((await objects.list("segments/")).length).toBeGreaterThan(0);
          objects.close();
        }
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.rmSync(log, { force: true });
      }
    },
    180_000,
  );
});
