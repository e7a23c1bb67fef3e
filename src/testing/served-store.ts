// A store in a temporary directory with an NBD server in front of it, on 127.0.0.1 and a free
// port: the fixture of the NBD tests. close() stops the server, closes the store and removes the
// directory.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type NbdAddress, NbdServer, type NbdServerOptions } from "../nbd/nbd-server.js";
import { type CreateVolumeRequest, Store, type StoreOptions } from "../store/store.js";
import { nbdUri } from "./nbd-clients.js";

export interface ServedStore {
  readonly dir: string;
  readonly store: Store;
  readonly server: NbdServer;
  readonly address: NbdAddress;
  /** nbd://127.0.0.1:PORT/VOLSER */
  uri(volser?: string): string;
  close(): Promise<void>;
}

export async function serveStore(
  options: {
    volumes?: readonly CreateVolumeRequest[];
    store?: StoreOptions;
    observer?: NbdServerOptions["observer"];
    logger?: NbdServerOptions["logger"];
    gate?: NbdServerOptions["gate"];
    timeouts?: NbdServerOptions["timeouts"];
    tls?: NbdServerOptions["tls"];
  } = {},
): Promise<ServedStore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gsnap-nbd-"));
  const store = await Store.open(dir, { collectorIntervalMs: false, ...options.store });
  for (const volume of options.volumes ?? []) await store.createVolume(volume);
  const server = new NbdServer({
    store,
    observer: options.observer,
    logger: options.logger,
    gate: options.gate,
    timeouts: options.timeouts,
    tls: options.tls,
  });
  const address = await server.listen({ host: "127.0.0.1", port: 0 });
  let closed = false;
  return {
    dir,
    store,
    server,
    address,
    uri: (volser = "") => nbdUri(address, volser),
    close: async () => {
      if (closed) return;
      closed = true;
      await server.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
