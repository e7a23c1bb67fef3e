// NBD benchmark (`npm run bench:nbd`): a real `gsnap serve` against nbdkit's file plugin serving a
// file on the same disk, in one run: nbdcopy of 2 GiB from a file into the export (with and
// without --flush, into fresh space on both sides) and from the export to null:, 4 KiB random
// reads and writes with 16 in flight (libnbd's Python binding), and the server's peak RSS. Prints
// a table of medians and ratios.

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startServe } from "../src/testing/serve-process.js";
import {
  freshPeerTarget,
  makeSource,
  median,
  peakRssMiB,
  startNbdkit,
  timed,
} from "./link-peers.js";

const run = promisify(execFile);
const GIB = 1024 ** 3;
const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? 2 * GIB);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RANDOM_OPS = Number(process.env.BENCH_RANDOM_OPS ?? 20_000);
const QUEUE_DEPTH = 16;
const TRACK = 57_344;
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "gsnap-nbd-bench-"));

const RANDOM_SCRIPT = `
import nbd, random, sys, time
uri, ops, depth, write = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "w"
h = nbd.NBD()
h.connect_uri(uri)
size = h.get_size()
blocks = size // 4096
buf = nbd.Buffer(4096)
random.seed(1)
issued = done = 0
start = time.monotonic()
def finished(*args):
    global done
    done += 1
    return 1
while done < ops:
    while issued < ops and issued - done < depth:
        offset = random.randrange(blocks) * 4096
        if write:
            h.aio_pwrite(buf, offset, completion=finished)
        else:
            h.aio_pread(buf, offset, completion=finished)
        issued += 1
    h.poll(-1)
print(ops / (time.monotonic() - start))
`;

async function randomIops(uri: string, write: boolean): Promise<number> {
  const script = path.join(dir, "gsnap_random_io.py");
  fs.writeFileSync(script, RANDOM_SCRIPT);
  // Debian's python3 has libnbd's module; a python3 earlier on PATH (pyenv) may not.
  const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const { stdout } = await run(python, [
    script,
    uri,
    String(RANDOM_OPS),
    String(QUEUE_DEPTH),
    write ? "w" : "r",
  ]);
  return Number(stdout.trim());
}

async function main(): Promise<void> {
  const source = path.join(dir, "source.img");
  const peerFile = path.join(dir, "nbdkit.img");
  makeSource(source, TOTAL_BYTES);
  fs.writeFileSync(peerFile, "");
  fs.truncateSync(peerFile, TOTAL_BYTES);
  const server = await startServe({ dataDir: path.join(dir, "gsnap-data") });
  const cylinders = Math.ceil(TOTAL_BYTES / TRACK / 15);
  await server.cli("volume", "create", "BENCH", "--cylinders", String(cylinders));
  const nbdkit = await startNbdkit(peerFile);
  const ours = server.nbdUri("BENCH");
  const results: Record<string, number[]> = {};
  const add = (key: string, value: number) => {
    results[key] ??= [];
    results[key].push(value);
  };
  try {
    // Like with like: each copy goes into fresh space on both sides (a new volume; nbdkit's file
    // emptied and extended again), after a sync, so neither inherits the other's dirty pages.
    const fresh = async () => {
      await server.cli("volume", "delete", "BENCH");
      await server.cli("volume", "create", "BENCH", "--cylinders", String(cylinders));
      await freshPeerTarget(peerFile, TOTAL_BYTES);
    };
    for (let i = 0; i < RUNS; i += 1) {
      await fresh();
      add("writeOurs", await timed("nbdcopy", [source, ours]));
      await run("sync", []);
      add("writePeer", await timed("nbdcopy", [source, nbdkit.uri]));
      await fresh();
      add("writeFlushOurs", await timed("nbdcopy", ["--flush", source, ours]));
      await run("sync", []);
      add("writeFlushPeer", await timed("nbdcopy", ["--flush", source, nbdkit.uri]));
      add("readOurs", await timed("nbdcopy", [ours, "null:"]));
      add("readPeer", await timed("nbdcopy", [nbdkit.uri, "null:"]));
    }
    for (let i = 0; i < RUNS; i += 1) {
      add("randReadOurs", await randomIops(ours, false));
      add("randReadPeer", await randomIops(nbdkit.uri, false));
      add("randWriteOurs", await randomIops(ours, true));
      add("randWritePeer", await randomIops(nbdkit.uri, true));
    }
    const rss = peakRssMiB(server.child.pid);
    const gib = TOTAL_BYTES / GIB;
    const rate = (key: string) => gib / median(results[key]);
    console.log(
      `\nNBD benchmark: ${gib} GiB, median of ${RUNS} runs, gsnap serve vs nbdkit file plugin, same disk\n`,
    );
    console.log("| measure | gsnap | nbdkit file | ratio |");
    console.log("| --- | --- | --- | --- |");
    const row = (
      name: string,
      ours: string,
      peer: string,
      value: (key: string) => number,
      unit: string,
    ) => {
      const ratio = value(ours) / value(peer);
      console.log(
        `| ${name} | ${value(ours).toFixed(2)} ${unit} | ${value(peer).toFixed(2)} ${unit} | ${ratio.toFixed(2)}x |`,
      );
    };
    row("nbdcopy file -> export", "writeOurs", "writePeer", rate, "GiB/s");
    row("nbdcopy --flush file -> export", "writeFlushOurs", "writeFlushPeer", rate, "GiB/s");
    row("nbdcopy export -> null:", "readOurs", "readPeer", rate, "GiB/s");
    const iops = (key: string) => median(results[key]);
    row(
      `4 KiB random reads, ${QUEUE_DEPTH} in flight`,
      "randReadOurs",
      "randReadPeer",
      iops,
      "IOPS",
    );
    row(
      `4 KiB random writes, ${QUEUE_DEPTH} in flight`,
      "randWriteOurs",
      "randWritePeer",
      iops,
      "IOPS",
    );
    console.log(`\nPeak RSS of gsnap serve: ${rss.toFixed(0)} MiB`);
  } finally {
    nbdkit.child.kill();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
