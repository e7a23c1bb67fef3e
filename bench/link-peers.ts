// The baselines and probes of the link benchmark (bench/link.ts): raw loopback TCP through the
// socket pump (bench/socket-pump.ts) in two processes, nbdkit `file` servers for nbdcopy, and the
// peak RSS of a process; and the timing and source-file helpers that the benchmarks share.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const PUMP_PATH = fileURLToPath(new URL("./socket-pump.js", import.meta.url));

/** Raw loopback TCP: one process writes totalBytes into a socket that another reads. */
export async function pumpSeconds(totalBytes: number): Promise<number> {
  const receiver = spawn(process.execPath, [PUMP_PATH, "receive"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  receiver.stdout.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) => receiver.once("exit", resolve));
  while (!/PORT (\d+)\n/.test(output)) {
    if (receiver.exitCode !== null) throw new Error(`The socket pump did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const port = /PORT (\d+)\n/.exec(output)?.[1] ?? "";
  try {
    await run(process.execPath, [PUMP_PATH, "send", port, String(totalBytes)]);
  } catch (error) {
    receiver.kill();
    throw error;
  }
  await exited;
  const result = JSON.parse(output.split("\n")[1]) as { bytes: number; seconds: number };
  if (result.bytes !== totalBytes) {
    throw new Error(`The socket pump moved ${result.bytes} bytes, not ${totalBytes}`);
  }
  return result.seconds;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startNbdkit(file: string): Promise<{ uri: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    "nbdkit",
    ["-f", "--exit-with-parent", "-i", "127.0.0.1", "-p", String(port), "file", file],
    { stdio: "ignore" },
  );
  const uri = `nbd://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    try {
      await run("nbdinfo", ["--size", uri]);
      return { uri, child };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error("nbdkit did not start");
}

export function peakRssMiB(pid: number | undefined): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}

/** Starts a new peak RSS (Linux clear_refs 5), so that the next reading covers what follows. */
export function resetPeakRss(pid: number | undefined): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, "5\n");
}

/** Seconds since `start` (a process.hrtime.bigint()). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Runs a command to its end; answers its wall time in seconds. */
export async function timed(command: string, args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  await run(command, args, { maxBuffer: 16 * 1024 * 1024 });
  return secondsSince(start);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** A source file of distinct, incompressible-looking data (no all-zero tracks). */
export function makeSource(file: string, totalBytes: number): void {
  const block = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (let i = 0; i < block.length; i += 8) block.writeDoubleLE(Math.random() + 1, i);
  const fd = fs.openSync(file, "w");
  for (let offset = 0; offset < totalBytes; offset += block.length) {
    block.writeDoubleLE(offset + 1, 0);
    fs.writeSync(fd, block, 0, Math.min(block.length, totalBytes - offset));
  }
  fs.closeSync(fd);
}

/** Empties nbdkit's target file and extends it again: fresh space, like a new gsnap volume. */
export async function freshPeerTarget(file: string, totalBytes: number): Promise<void> {
  fs.truncateSync(file, 0);
  fs.truncateSync(file, totalBytes);
  await run("sync", []);
}
