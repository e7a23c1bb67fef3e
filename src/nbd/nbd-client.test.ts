import { afterEach, describe, expect, it } from "vitest";
import { type ServedStore, serveStore } from "../testing/served-store.js";
import { NbdClient } from "./nbd-client.js";

let served: ServedStore | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

describe("gsnap's own NBD client", () => {
  it("writes, flushes and reads back through a real server, in requests of at most 4 MiB", async () => {
    served = await serveStore({ volumes: [{ volser: "VOL001", cylinders: 10 }] });
    const client = await NbdClient.connect(served.address, "VOL001");
    const data = Buffer.alloc(5 * 1024 * 1024 + 124);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    await client.write(1_000, data);
    await client.flush();
    expect((await client.read(1_000, data.length)).equals(data)).toBe(true);
    await client.close();
    const stored = await served.store.read("VOL001", {
      offsetBytes: 1_000,
      lengthBytes: data.length,
    });
    expect(stored.equals(data)).toBe(true);
  });

  it("is refused an export that does not exist", async () => {
    served = await serveStore({ volumes: [{ volser: "VOL001", cylinders: 1 }] });
    await expect(NbdClient.connect(served.address, "NOPE")).rejects.toThrow(
      /export "NOPE" was refused/,
    );
  });

  it("reports the server's error for a read past the end", async () => {
    served = await serveStore({ volumes: [{ volser: "VOL001", cylinders: 1 }] });
    const client = await NbdClient.connect(served.address, "VOL001");
    await expect(client.read(15 * 57_344, 1)).rejects.toThrow(/errno 22/);
    await client.close();
  });
});
