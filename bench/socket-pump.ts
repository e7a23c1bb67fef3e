// The raw loopback TCP baseline of the link benchmark (bench/link.ts), as two processes: `receive`
// listens on a free loopback port, prints it, reads one connection to its end and prints
// `{ bytes, seconds }` as JSON, timed from the accept; `send PORT BYTES` writes BYTES in 1 MiB
// buffers of random data into that port, waiting on backpressure like any careful writer.

import { randomFillSync } from "node:crypto";
import net from "node:net";

/** The size of one write: what the issue asks for, and large enough that syscalls do not dominate. */
const WRITE_BYTES = 1024 * 1024;

function receive(): void {
  const server = net.createServer((socket) => {
    const start = process.hrtime.bigint();
    let bytes = 0;
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on("end", () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      process.stdout.write(`${JSON.stringify({ bytes, seconds })}\n`);
      server.close();
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo;
    process.stdout.write(`PORT ${port}\n`);
  });
}

async function send(port: number, totalBytes: number): Promise<void> {
  const buffer = randomFillSync(Buffer.allocUnsafe(WRITE_BYTES));
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  for (let sent = 0; sent < totalBytes; sent += WRITE_BYTES) {
    const length = Math.min(WRITE_BYTES, totalBytes - sent);
    if (!socket.write(buffer.subarray(0, length))) {
      await new Promise((resolve) => socket.once("drain", resolve));
    }
  }
  await new Promise<void>((resolve) => socket.end(resolve));
}

const [mode, port, bytes] = process.argv.slice(2);
if (mode === "receive") receive();
else if (mode === "send") await send(Number(port), Number(bytes));
else throw new Error(`Cannot run the socket pump: mode "${mode}" is not receive or send`);
