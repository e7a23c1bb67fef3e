// Vitest global setup: one throw-away Ceph cluster (src/testing/ceph-cluster.ts) for the whole
// test run, so the object store tests run against a real S3 endpoint. Its address and keys go to
// the test workers by vitest's provide/inject (and into process.env, for the processes tests
// spawn); teardown kills the daemons and removes the data.
// GSNAP_TEST_S3=off skips the cluster, and the S3 tests say they are skipped and why.

import type { TestProject } from "vitest/node";
import { ensureBucket } from "../../src/objects/s3-object-store.js";
import { startCephCluster } from "../../src/testing/ceph-cluster.js";
import type { TestS3 } from "../../src/testing/s3-test-store.js";

/** The one bucket of the test run; each test store takes a prefix of its own in it. */
const TEST_BUCKET = "gsnap-test";
/** 2 GiB of OSD RAM (memstore, allocated as used): the tests write megabytes, never near full. */
const MEMSTORE_BYTES = 2 * 1024 * 1024 * 1024;
/** Bring-up takes about 1.5 s; past 60 s something is wrong, and ceph-up.sh says what. */
const UP_TIMEOUT_S = 60;

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  if (process.env.GSNAP_TEST_S3 === "off") {
    console.warn("S3 tests skipped: GSNAP_TEST_S3=off (no Ceph cluster started)");
    project.provide("gsnapS3", { available: false, reason: "GSNAP_TEST_S3=off" });
    return undefined;
  }

  const startedMs = performance.now();
  const cluster = await startCephCluster({
    memstoreBytes: MEMSTORE_BYTES,
    upTimeoutS: UP_TIMEOUT_S,
    dirPrefix: "gsnap-ceph-",
    purpose: "the S3 tests",
    missingHint: "or set GSNAP_TEST_S3=off to run without the S3 tests.",
  });
  const s3: TestS3 = {
    endpoint: cluster.endpoint,
    region: cluster.region,
    accessKeyId: cluster.credentials.accessKeyId,
    secretAccessKey: cluster.credentials.secretAccessKey,
    bucket: TEST_BUCKET,
  };
  for (const [name, value] of cluster.env) process.env[name] = value;
  try {
    await ensureBucket({
      bucket: s3.bucket,
      prefix: "",
      endpoint: cluster.endpoint,
      region: cluster.region,
      credentials: cluster.credentials,
    });
  } catch (error) {
    cluster.stop();
    throw error;
  }
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
  console.log(`Ceph test cluster up in ${seconds} s: ${s3.endpoint}, bucket ${s3.bucket}`);
  project.provide("gsnapS3", { available: true, s3 });
  return () => cluster.stop();
}
