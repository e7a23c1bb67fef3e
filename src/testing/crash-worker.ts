// The crash test's worker process: applies the crash workload to a store from a given op index
// on, logging each op before and after it runs, until the test kills it with SIGKILL.
//
// usage: node crash-worker.js DATA_DIR SEED FIRST_OP_INDEX LOG_FILE
// With GSNAP_CRASH_S3 set (JSON of S3ObjectStoreOptions), chunks go to that object store through
// small segments sealed at once, so kills land in uploads and staging deletions too.

import fs from "node:fs";
import { Store } from "../store/store.js";
import { applyToStore, crashDeviceOptions, crashOp, createCrashVolumes } from "./crash-workload.js";

const [dataDir, seedText, firstText, logFile] = process.argv.slice(2);
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
for (let index = first; ; index += 1) {
  fs.appendFileSync(logFile, `BEGIN ${index}\n`);
  await applyToStore(store, crashOp(seed, index), index);
  fs.appendFileSync(logFile, `DONE ${index}\n`);
}
