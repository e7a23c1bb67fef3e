// Crash safety: a worker process runs a random store workload and is SIGKILLed at random moments,
// many times. CRASH_SEED names the workload and the kill moments (which op, and how many turns of
// the worker's event loop into it), so that a failing run printed with its seed can be replayed;
// only the store's own timers (collector, merges) still run on the clock. After each kill the store reopens, the checker passes, and the volumes hold exactly
// what the workload had completed (plus, possibly, the one operation in flight: all of it or none,
// or for a write or zero, all or none of it on each track).

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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
import { seededRandom } from "../src/testing/prng.js";
import { s3Available, testS3 } from "../src/testing/s3-test-store.js";

const WORKER = path.resolve("dist/src/testing/crash-worker.js");
const KILLS = Number(process.env.CRASH_KILLS ?? 12);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
/** Ops run whole before the one a kill lands in: 0 to 39, about what 30 to 430 ms used to hold. */
const MAX_OPS_BEFORE_KILL = 40;
/** Event-loop turns into that op before the kill: from before its first I/O to well past its end. */
const MAX_TURNS_INTO_OP = 300;
/** A worker that has not killed itself by then is stuck: the test fails rather than hangs. */
const WORKER_TIMEOUT_MS = 60_000;

/** Where kill `kill` of the run lands, from the seed alone: `AFTER_OPS:TURNS` for the worker. */
function killMoment(kill: number): string {
  const random = seededRandom((SEED ^ Math.imul(kill + 1, 0x85ebca6b)) >>> 0);
  const afterOps = Math.floor(random() * MAX_OPS_BEFORE_KILL);
  const turns = Math.floor(random() * MAX_TURNS_INTO_OP);
  return `${afterOps}:${turns}`;
}

function cloneModel(model: CrashModel): CrashModel {
  return { volumes: model.volumes.map((volume) => Buffer.from(volume)), scratch: model.scratch };
}

function advance(model: CrashModel, from: number, to: number): CrashModel {
  const next = cloneModel(model);
  for (let index = from; index < to; index += 1) applyToModel(next, crashOp(SEED, index), index);
  return next;
}

async function runUntilKilled(options: {
  dataDir: string;
  firstOp: number;
  log: string;
  s3: string;
  moment: string;
}): Promise<string[]> {
  const { dataDir, firstOp, log, s3, moment } = options;
  fs.writeFileSync(log, "");
  const args = [WORKER, dataDir, String(SEED), String(firstOp), log, moment];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, GSNAP_CRASH_S3: s3 },
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), WORKER_TIMEOUT_MS);
    child.on("exit", (_code, exitSignal) => {
      clearTimeout(timer);
      resolve(exitSignal);
    });
  });
  const lines = fs.readFileSync(log, "utf8").split("\n");
  if (stderr.trim() !== "" || !lines.includes("READY")) {
    throw new Error(`seed ${SEED}: the worker failed before the kill at ${moment}: ${stderr}`);
  }
  expect(signal, `seed ${SEED}: the worker killed itself at ${moment}`).toBe("SIGKILL");
  return lines;
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
      let killsInOps = 0;
      try {
        for (let kill = 0; kill < KILLS; kill += 1) {
          const moment = killMoment(kill);
          const lines = await runUntilKilled({ dataDir, firstOp: opsDone, log, s3, moment });
          const at = `seed ${SEED}, kill ${kill} at ${moment} from op ${opsDone}`;
          const done = lines
            .filter((line) => line.startsWith("DONE "))
            .map((line) => Number(line.slice(5)));
          const completed = done.length > 0 ? Math.max(...done) + 1 : opsDone;
          const inFlight = lines.includes(`BEGIN ${completed}`);
          if (inFlight) killsInOps += 1;
          const store = await Store.open(dataDir, {
            collectorIntervalMs: false,
            ...crashDeviceOptions(s3),
          });
          try {
            const report = await store.check();
            expect(report.problems, at).toEqual([]);
            const acknowledged = advance(model, opsDone, completed);
            if (await matches(store, acknowledged)) {
              model = acknowledged;
              opsDone = completed;
            } else {
              expect(inFlight, `${at}: data differs from op ${completed}`).toBe(true);
              const withInFlight = advance(acknowledged, completed, completed + 1);
              const landed = (await matches(store, withInFlight))
                ? withInFlight
                : await landedByTrack(store, acknowledged, withInFlight, completed);
              expect(landed !== undefined, `${at}: op ${completed} half done`).toBe(true);
              model = landed as CrashModel;
              opsDone = completed + 1;
            }
          } finally {
            await store.close();
          }
          opsTotal = opsDone;
        }
        expect(opsTotal).toBeGreaterThan(KILLS);
        // The moments land inside ops, not only between them (each lands in one with odds of
        // about 4 in 5, so all of them missing is a broken worker, not chance).
        expect(killsInOps, `seed ${SEED}: kills that landed inside an op`).toBeGreaterThan(0);
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
