// A throw-away Ceph cluster (mon, mgr, memstore OSD, radosgw on loopback) for the S3 tests and
// the object-store benchmark: scripts/ceph-up.sh in a fresh temp dir, and scripts/ceph-down.sh
// once the caller is done, also when the process fails or is interrupted.

import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** scripts/ seen from src/testing/ (vitest runs the source) and from dist/src/testing/. */
const SCRIPTS_DIR_CANDIDATES = ["../../scripts/", "../../../scripts/"];
/** What ceph-up.sh runs; it checks them too, but after the caller has made a dir. */
const REQUIRED_BINARIES = [
  "ceph-mon",
  "ceph-mgr",
  "ceph-osd",
  "radosgw",
  "radosgw-admin",
  "ceph",
  "monmaptool",
  "curl",
  "uuidgen",
];
const INSTALL_COMMAND =
  "apt-get install -y --no-install-recommends ceph-mon ceph-mgr ceph-osd radosgw ceph-common curl uuid-runtime";
/** A second try covers a port taken between ceph-up.sh choosing it and binding it. */
const UP_ATTEMPTS = 2;
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

export interface CephClusterOptions {
  /** OSD RAM (memstore, allocated as used): the most the cluster can hold. */
  readonly memstoreBytes: number;
  /** Past this, ceph-up.sh gives up and says why. */
  readonly upTimeoutS: number;
  /** Starts the name of the cluster's temp dir: "gsnap-ceph-". */
  readonly dirPrefix: string;
  /** Who the cluster is for, in messages: "the S3 tests". */
  readonly purpose: string;
  /** A last line for the error when Ceph is not installed: another way out, if there is one. */
  readonly missingHint?: string;
}

export interface CephCluster {
  readonly dir: string;
  /** The cluster's ceph.conf, for radosgw-admin. */
  readonly conf: string;
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Every line ceph-up.sh printed (S3_ENDPOINT, AWS_REGION, ...), for spawned processes. */
  readonly env: ReadonlyMap<string, string>;
  /** Kills the daemons and removes the dir; a second call does nothing. */
  stop(): void;
}

function scriptsDir(): string {
  for (const candidate of SCRIPTS_DIR_CANDIDATES) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (fs.existsSync(path.join(dir, "ceph-up.sh"))) return dir;
  }
  assert.fail(`scripts/ceph-up.sh is missing: not in ${SCRIPTS_DIR_CANDIDATES}`);
}

function onPath(binary: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    try {
      fs.accessSync(path.join(dir, binary), fs.constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

function parseEnvLines(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const equals = line.indexOf("=");
    if (equals > 0) values.set(line.slice(0, equals), line.slice(equals + 1).trim());
  }
  return values;
}

function required(env: ReadonlyMap<string, string>, name: string): string {
  const value = env.get(name);
  if (value === undefined || value === "") throw new Error(`ceph-up.sh did not print ${name}`);
  return value;
}

/** Kills the daemons of the cluster in `dir`, and removes the dir unless told to keep it. */
function cephDown(dir: string, options: { keepDir: boolean }): void {
  spawnSync(path.join(scriptsDir(), "ceph-down.sh"), [dir], {
    stdio: "ignore",
    env: options.keepDir ? { ...process.env, KEEP_DIR: "1" } : process.env,
  });
}

/**
 * Stops the cluster in `dir` once: when called, at exit, and on SIGINT or SIGTERM where nothing
 * else handles them (vitest does, and exits; with no handler at all Node skips the exit hook).
 */
function stopOnce(dir: string): (options: { keepDir: boolean }) => void {
  let stopped = false;
  const signals = STOP_SIGNALS.filter((signal) => process.listenerCount(signal) === 0);
  const stop = (options: { keepDir: boolean }): void => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", onExit);
    for (const signal of signals) process.removeListener(signal, onSignal);
    cephDown(dir, options);
  };
  const onExit = (): void => stop({ keepDir: false });
  const onSignal = (): void => {
    stop({ keepDir: false });
    process.exit(130);
  };
  // A run cut short (Ctrl-C, a crash) must not leave four daemons behind.
  process.once("exit", onExit);
  for (const signal of signals) process.once(signal, onSignal);
  return stop;
}

/** One bring-up in a fresh dir; a failure leaves nothing running, and the dir with its logs. */
async function startOnce(options: CephClusterOptions): Promise<CephCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), options.dirPrefix));
  const stop = stopOnce(dir);
  try {
    const { stdout } = await promisify(execFile)(path.join(scriptsDir(), "ceph-up.sh"), [dir], {
      env: {
        ...process.env,
        CEPH_MEMSTORE_BYTES: String(options.memstoreBytes),
        CEPH_UP_TIMEOUT: String(options.upTimeoutS),
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
      env,
      stop: () => stop({ keepDir: false }),
    };
  } catch (error) {
    // ceph-up.sh stops what it started when it fails; this also covers a missing env line.
    stop({ keepDir: true });
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`Cannot start the Ceph cluster for ${options.purpose} in ${dir}:\n${stderr}`, {
      cause: error,
    });
  }
}

/**
 * Starts a cluster, twice if need be: two runs starting at the same moment can both pick the same
 * free monitor port, and then one of them fails. Each failed attempt keeps its dir for inspection.
 */
export async function startCephCluster(options: CephClusterOptions): Promise<CephCluster> {
  const missing = REQUIRED_BINARIES.filter((binary) => !onPath(binary));
  if (missing.length > 0) {
    throw new Error(
      `Cannot start the Ceph cluster for ${options.purpose}: ${missing.join(", ")} not found. ` +
        `Install Ceph with:\n  ${INSTALL_COMMAND}` +
        (options.missingHint === undefined ? "" : `\n${options.missingHint}`),
    );
  }
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= UP_ATTEMPTS) throw error;
      console.warn(`${(error as Error).message}\nTrying again.`);
    }
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
