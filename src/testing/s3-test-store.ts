// The S3 side of the tests: test/setup/ceph.ts starts one throw-away Ceph cluster per test run
// and makes one bucket in it; each test gets an S3ObjectStore on that bucket under a prefix of its
// own, so tests running side by side never see each other's objects.

import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import { S3ObjectStore, type S3ObjectStoreOptions } from "../objects/s3-object-store.js";

/** Where the test cluster's S3 endpoint is and how to sign in to it. */
export interface TestS3 {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The bucket every test store lives in. */
  readonly bucket: string;
}

/** What the global setup hands the test workers: the cluster, or why there is none. */
export type TestS3Status =
  | { readonly available: true; readonly s3: TestS3 }
  | { readonly available: false; readonly reason: string };

declare module "vitest" {
  export interface ProvidedContext {
    gsnapS3: TestS3Status;
  }
}

let status: TestS3Status | undefined;

function s3Status(): TestS3Status {
  if (status === undefined) {
    const provided = inject("gsnapS3");
    status = provided ?? {
      available: false,
      reason: "the S3 test cluster was not set up (is test/setup/ceph.ts in vitest.config.ts?)",
    };
  }
  return status;
}

/** True when the tests have a Ceph cluster to talk to. */
export function s3Available(): boolean {
  return s3Status().available;
}

/** Why the S3 tests are skipped, for their names: "GSNAP_TEST_S3=off". */
export function s3SkipReason(): string {
  const current = s3Status();
  return current.available ? "" : current.reason;
}

/** The test cluster; only call it where s3Available() holds. */
export function testS3(): TestS3 {
  const current = s3Status();
  if (!current.available) throw new Error(`Cannot use the S3 test cluster: ${current.reason}`);
  return current.s3;
}

/**
 * A store on the test bucket under a fresh prefix. `overrides` change the endpoint (a fault
 * proxy's), the credentials, the retries and timeouts; the bucket and prefix stay unless given.
 */
export function testObjectStore(overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  const s3 = testS3();
  return new S3ObjectStore({
    bucket: s3.bucket,
    prefix: `tests/${randomUUID()}/`,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    ...overrides,
  });
}
