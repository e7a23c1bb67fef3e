// An object store in memory for unit tests, which can be told to fail: the next puts or gets
// throw OBJECT_STORE_UNAVAILABLE, as the real one does once its retries are spent.

import { GsnapError } from "../errors/gsnap-error.js";
import {
  emptyObjectStoreStats,
  type ObjectInfo,
  type ObjectRange,
  type ObjectStore,
  type ObjectStoreStats,
} from "../objects/object-store.js";

export class MemoryObjectStore implements ObjectStore {
  readonly description = "memory://test";
  readonly stats: ObjectStoreStats = emptyObjectStoreStats();
  readonly objects = new Map<string, Buffer>();
  private failingPuts = 0;
  private failingGets = 0;

  /** Makes the next `count` puts fail. */
  failPuts(count: number): void {
    this.failingPuts = count;
  }

  /** Makes the next `count` gets fail. */
  failGets(count: number): void {
    this.failingGets = count;
  }

  async put(key: string, body: Buffer): Promise<void> {
    if (this.failingPuts > 0) {
      this.failingPuts -= 1;
      throw this.failure(`put ${key}`);
    }
    this.stats.puts += 1;
    this.stats.putBytes += body.length;
    this.objects.set(key, Buffer.from(body));
  }

  async putIfAbsent(key: string, body: Buffer): Promise<boolean> {
    if (this.objects.has(key)) return false;
    await this.put(key, body);
    return true;
  }

  async get(key: string, range?: ObjectRange): Promise<Buffer | undefined> {
    if (this.failingGets > 0) {
      this.failingGets -= 1;
      throw this.failure(`get ${key}`);
    }
    this.stats.gets += 1;
    const body = this.objects.get(key);
    if (body === undefined) return undefined;
    const part =
      range === undefined
        ? body
        : body.subarray(range.offsetBytes, range.offsetBytes + range.lengthBytes);
    this.stats.getBytes += part.length;
    return Buffer.from(part);
  }

  async delete(key: string): Promise<void> {
    this.stats.deletes += 1;
    this.objects.delete(key);
  }

  async list(keyPrefix: string): Promise<ObjectInfo[]> {
    this.stats.lists += 1;
    return [...this.objects]
      .filter(([key]) => key.startsWith(keyPrefix))
      .map(([key, body]) => ({ key, sizeBytes: body.length }));
  }

  private failure(action: string): GsnapError {
    this.stats.failures += 1;
    return new GsnapError(
      "OBJECT_STORE_UNAVAILABLE",
      `Cannot ${action} at ${this.description}: injected failure`,
    );
  }
}
