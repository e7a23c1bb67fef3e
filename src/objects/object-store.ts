// The object store: where sealed segments go when chunks live in an existing distributed object
// store (Ceph's radosgw, or any S3-compatible one). A small interface over whole immutable objects
// under one key prefix, so that the segment device does not know S3 and the unit tests can put a
// fake in its place. The real one is s3-object-store.ts.

/** A byte range of an object. */
export interface ObjectRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export interface ObjectInfo {
  /** The key below the store's prefix. */
  readonly key: string;
  readonly sizeBytes: number;
}

/** What the object store did, for metrics: counts since the process started. */
export interface ObjectStoreStats {
  puts: number;
  putBytes: number;
  gets: number;
  getBytes: number;
  deletes: number;
  lists: number;
  /** Attempts beyond the first (throttling, 5xx, timeouts, dropped connections). */
  retries: number;
  /** Requests that failed for good (after their retries). */
  failures: number;
}

/** Stats with every count at zero, for a store that has done nothing yet. */
export function emptyObjectStoreStats(): ObjectStoreStats {
  return {
    puts: 0,
    putBytes: 0,
    gets: 0,
    getBytes: 0,
    deletes: 0,
    lists: 0,
    retries: 0,
    failures: 0,
  };
}

export interface ObjectStore {
  /** Where the objects are, for messages and logs: "s3://bucket/prefix at http://host:port". */
  readonly description: string;
  readonly stats: ObjectStoreStats;
  /**
   * Stores an object whole; resolves once the object store has it durably (its answer to the
   * PUT). The body's MD5 goes with it, so the object store refuses a body damaged on the way.
   */
  put(key: string, body: Buffer): Promise<void>;
  /**
   * Stores an object only if none is there under that key (If-None-Match: *), atomically in the
   * object store: true when it stored it, false when an object was there already.
   */
  putIfAbsent(key: string, body: Buffer): Promise<boolean>;
  /** An object's bytes, or a range of them; undefined when there is no such object. */
  get(key: string, range?: ObjectRange): Promise<Buffer | undefined>;
  /** Deletes an object; deleting one that does not exist is not an error. */
  delete(key: string): Promise<void>;
  /** The objects whose keys start with `keyPrefix` (below the store's prefix), all of them. */
  list(keyPrefix: string): Promise<ObjectInfo[]>;
}
