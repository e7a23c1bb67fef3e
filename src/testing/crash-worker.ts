// The crash test's worker process: applies the crash workload to a store from a given op index
// on, logging each op before and after it runs, until it is killed with SIGKILL: by the test, or,
// given a kill moment, by itself at that moment, so that a seed replays the kills too. A moment
// AFTER_OPS:TURNS runs AFTER_OPS ops whole, starts the next and lets TURNS turns of the event
// loop go by (its I/O completing meanwhile, or not), then kills the process.
//
// usage: node crash-worker.js DATA_DIR SEED FIRST_OP_INDEX LOG_FILE [AFTER_OPS:TURNS]
// With GSNAP_CRASH_S3 set (JSON of S3ObjectStoreOptions), chunks go to that object store through
// small segments sealed at once, so kills land in uploads and staging deletions too.

import fs from "node:fs";
import { Store } from "../store/store.js";
import { applyToStore, crashDeviceOptions, crashOp, createCrashVolumes } from "./crash-workload.js";

const [dataDir, seedText, firstText, logFile, killText] = process.argv.slice(2);
const seed = Number(seedText);
const first = Number(firstText);
// The collector runs often, and a small journal is merged all the time, so kills land in
// collector steps, journal appends, merges and the reuse of journal files too.
const store = await Store.open(dataDir, {
  collectorIntervalMs: 20,
  journalBytes: 256 * 1024,
  journalFileBytes: 64 * 1024,
  mergeIdleMs: 50,
  ...crashDeviceOptions(),
});
if (first === 0) await createCrashVolumes(store);
fs.appendFileSync(logFile, "READY\n");
const [afterOps, turns] = (killText ?? "").split(":").map(Number);
const killAt = killText === undefined ? Number.POSITIVE_INFINITY : first + afterOps;
for (let index = first; index < killAt; index += 1) await runOp(index);
// The kill moment: the op is under way, its I/O in flight or done.
let running = true;
void runOp(killAt).finally(() => {
  running = false;
});
for (let turn = 0; turn < turns && running; turn += 1) {
  await new Promise((resolve) => setImmediate(resolve));
}
process.kill(process.pid, "SIGKILL");

async function runOp(index: number): Promise<void> {
  fs.appendFileSync(logFile, `BEGIN ${index}\n`);
  await applyToStore(store, crashOp(seed, index), index);
  fs.appendFileSync(logFile, `DONE ${index}\n`);
}
