// Vitest global setup: one throw-away Ceph cluster (mon, mgr, memstore OSD, radosgw on loopback;
// scripts/ceph-up.sh) for the whole test run, so the object store tests run against a real S3
// endpoint. Its address and keys go to the test workers by vitest's provide/inject (and into
// process.env, for the processes tests spawn); teardown kills the daemons and removes the data.
// GSNAP_TEST_S3=off skips the cluster, and the S3 tests say they are skipped and why.

import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { ensureBucket } from "../../src/objects/s3-object-store.js";
import type { TestS3 } from "../../src/testing/s3-test-store.js";

const SCRIPTS_DIR = path.resolve(import.meta.dirname, "../../scripts");
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
/** The one bucket of the test run; each test store takes a prefix of its own in it. */
const TEST_BUCKET = "gsnap-test";
/** 2 GiB of OSD RAM (memstore, allocated as used): the tests write megabytes, never near full. */
const MEMSTORE_BYTES = 2 * 1024 * 1024 * 1024;
/** Bring-up takes about 1.5 s; past 60 s something is wrong, and ceph-up.sh says what. */
const UP_TIMEOUT_S = 60;
/** A second try covers a port taken between ceph-up.sh choosing it and binding it. */
const UP_ATTEMPTS = 2;

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
    if (equals > 0) values.set(line.slice(0, equals), line.slice(equals + 1));
  }
  return values;
}

function required(env: Map<string, string>, name: string): string {
  const value = env.get(name);
  assert.ok(value !== undefined && value !== "", `ceph-up.sh printed ${name}`);
  return value;
}

/**
 * Runs ceph-up.sh in a fresh directory, twice if need be: two test runs starting at the same
 * moment can both pick the same free monitor port, and then one of them fails. A failed attempt
 * has stopped its daemons and keeps its directory, with the logs, for inspection.
 */
async function startCluster(): Promise<{ dir: string; stdout: string }> {
  for (let attempt = 1; ; attempt += 1) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-ceph-"));
    try {
      const up = path.join(SCRIPTS_DIR, "ceph-up.sh");
      const { stdout } = await promisify(execFile)(up, [dir], {
        env: {
          ...process.env,
          CEPH_MEMSTORE_BYTES: String(MEMSTORE_BYTES),
          CEPH_UP_TIMEOUT: String(UP_TIMEOUT_S),
        },
      });
      return { dir, stdout };
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      if (attempt >= UP_ATTEMPTS) {
        throw new Error(`Cannot start the Ceph cluster for the S3 tests in ${dir}:\n${stderr}`, {
          cause: error,
        });
      }
      console.warn(`Ceph test cluster failed to start in ${dir}; trying again:\n${stderr}`);
    }
  }
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  if (process.env.GSNAP_TEST_S3 === "off") {
    console.warn("S3 tests skipped: GSNAP_TEST_S3=off (no Ceph cluster started)");
    project.provide("gsnapS3", { available: false, reason: "GSNAP_TEST_S3=off" });
    return undefined;
  }
  const missing = REQUIRED_BINARIES.filter((binary) => !onPath(binary));
  if (missing.length > 0) {
    throw new Error(
      `Cannot start the Ceph cluster for the S3 tests: ${missing.join(", ")} not found. ` +
        `Install Ceph with:\n  ${INSTALL_COMMAND}\n` +
        "or set GSNAP_TEST_S3=off to run without the S3 tests.",
    );
  }

  const startedMs = performance.now();
  const { dir, stdout } = await startCluster();
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    spawnSync(path.join(SCRIPTS_DIR, "ceph-down.sh"), [dir], { stdio: "ignore" });
  };
  // A run cut short (Ctrl-C, a crash) must not leave four daemons behind.
  process.once("exit", stop);
  const env = parseEnvLines(stdout);
  const s3: TestS3 = {
    endpoint: required(env, "S3_ENDPOINT"),
    region: required(env, "AWS_REGION"),
    accessKeyId: required(env, "AWS_ACCESS_KEY_ID"),
    secretAccessKey: required(env, "AWS_SECRET_ACCESS_KEY"),
    bucket: TEST_BUCKET,
  };
  for (const [name, value] of env) process.env[name] = value;
  try {
    await ensureBucket({
      bucket: s3.bucket,
      prefix: "",
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
  } catch (error) {
    stop();
    throw error;
  }
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
  console.log(`Ceph test cluster up in ${seconds} s: ${s3.endpoint}, bucket ${s3.bucket}`);
  project.provide("gsnapS3", { available: true, s3 });
  return () => {
    stop();
    process.removeListener("exit", stop);
  };
}
