// MD5 of large bodies on a worker thread. An upload sends its segment's MD5 (Content-MD5) so that
// the object store refuses a damaged body; hashing 32 MiB takes ~95 ms here, which on the event
// loop would stall every host request meanwhile. Bodies in a SharedArrayBuffer (the device reads
// segments into one) go to the worker without a copy; small ones are hashed in place.

import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/** Below this, a message to the worker costs more than the hash. */
const IN_PLACE_BYTES = 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
parentPort.on("message", ({ id, buffer, offset, length }) => {
  const digest = createHash("md5").update(new Uint8Array(buffer, offset, length)).digest("base64");
  parentPort.postMessage({ id, digest });
});
`;

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<
  number,
  { resolve: (digest: string) => void; reject: (e: Error) => void }
>();

function hasher(): Worker {
  if (worker !== undefined) return worker;
  const started = new Worker(WORKER_SOURCE, { eval: true });
  started.on("message", ({ id, digest }: { id: number; digest: string }) => {
    pending.get(id)?.resolve(digest);
    pending.delete(id);
    if (pending.size === 0) started.unref();
  });
  started.on("error", (error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
    worker = undefined;
  });
  started.unref();
  worker = started;
  return started;
}

/** The base64 MD5 of `body`, as Content-MD5 wants it. */
export async function md5Base64(body: Buffer): Promise<string> {
  if (body.length < IN_PLACE_BYTES) return createHash("md5").update(body).digest("base64");
  let shared = body;
  if (!(body.buffer instanceof SharedArrayBuffer)) {
    shared = Buffer.from(new SharedArrayBuffer(body.length));
    body.copy(shared);
  }
  const thread = hasher();
  const id = nextId++;
  const digest = new Promise<string>((resolve, reject) => pending.set(id, { resolve, reject }));
  // Referenced while a hash is under way, so that a process waiting on it does not exit.
  thread.ref();
  thread.postMessage({
    id,
    buffer: shared.buffer,
    offset: shared.byteOffset,
    length: shared.length,
  });
  return digest;
}
