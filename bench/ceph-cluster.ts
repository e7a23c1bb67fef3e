// A throw-away Ceph cluster for a benchmark: scripts/ceph-up.sh in a fresh temp dir, and
// scripts/ceph-down.sh when the benchmark ends, also when it fails or is interrupted.

import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/** dist/bench/ceph-cluster.js → scripts/ */
const SCRIPTS_DIR = path.resolve(import.meta.dirname, "../../scripts");
/** Bring-up takes a few seconds; past 120 s something is wrong, and ceph-up.sh says what. */
const UP_TIMEOUT_S = 120;

export interface CephCluster {
  readonly dir: string;
  /** The cluster's ceph.conf, for radosgw-admin. */
  readonly conf: string;
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Kills the daemons and removes the dir; a second call does nothing. */
  stop(): void;
}

function parseEnvLines(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const equals = line.indexOf("=");
    if (equals > 0) values.set(line.slice(0, equals), line.slice(equals + 1).trim());
  }
  return values;
}

function required(env: Map<string, string>, name: string): string {
  const value = env.get(name);
  if (value === undefined || value === "") throw new Error(`ceph-up.sh did not print ${name}`);
  return value;
}

export async function startCephCluster(options: { memstoreBytes: number }): Promise<CephCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-bench-ceph-"));
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    spawnSync(path.join(SCRIPTS_DIR, "ceph-down.sh"), [dir], { stdio: "ignore" });
  };
  // A run cut short (Ctrl-C, an uncaught error) must not leave four daemons behind.
  process.once("exit", stop);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stop();
      process.exit(130);
    });
  }
  try {
    const { stdout } = await promisify(execFile)(path.join(SCRIPTS_DIR, "ceph-up.sh"), [dir], {
      env: {
        ...process.env,
        CEPH_MEMSTORE_BYTES: String(options.memstoreBytes),
        CEPH_UP_TIMEOUT: String(UP_TIMEOUT_S),
      },
    });
    const env = parseEnvLines(stdout);
    return {
      dir,
      conf: required(env, "CEPH_CONF"),
      endpoint: required(env, "S3_ENDPOINT"),
      region: required(env, "AWS_REGION"),
      credentials: {
        accessKeyId: required(env, "AWS_ACCESS_KEY_ID"),
        secretAccessKey: required(env, "AWS_SECRET_ACCESS_KEY"),
      },
      stop,
    };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    stop();
    throw new Error(`Cannot start the Ceph cluster for the benchmark in ${dir}:\n${stderr}`, {
      cause: error,
    });
  }
}

/**
 * Frees the RADOS space of deleted objects now: radosgw keeps the tails of deleted objects for
 * its garbage collector (hours by default), and the memstore OSD holds them in RAM until then.
 */
export async function collectGarbage(cluster: CephCluster): Promise<void> {
  await promisify(execFile)("radosgw-admin", [
    "-c",
    cluster.conf,
    "gc",
    "process",
    "--include-all",
  ]);
}
