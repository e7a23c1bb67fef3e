// NBD benchmark (`npm run bench:nbd`): a real `gsnap serve` against nbdkit's file plugin serving a
// file on the same disk, in one run: nbdcopy of 2 GiB from a file into the export (with and
// without --flush, into fresh space on both sides) and from the export to null:; 4 KiB random
// reads, writes and a 70/30 mix with 16 in flight through two clients, libnbd's Python binding
// and fio's NBD engine (bench/nbd-random.ts), each from a settled store, gsnap's CPU counted until
// the journal has merged what the run wrote; reads right after writes, while those merge; the
// server's peak RSS. Prints a table of medians:
// each side's rate, the ratio, and the CPU each server spent (per GiB copied, per operation), the
// figure that noise from other work on the machine disturbs least.
//
// BENCH_BYTES (2 GiB), BENCH_RUNS (3) and BENCH_RANDOM_OPS (20,000 per client and mix) make a
// quick run possible, e.g. BENCH_BYTES=$((512*1024*1024)) BENCH_RUNS=1 BENCH_RANDOM_OPS=5000.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type ServeProcess, startServe } from "../src/testing/serve-process.js";
import { cpuSeconds } from "./cpu-usage.js";
import {
  freshPeerTarget,
  makeSource,
  median,
  peakRssMiB,
  startNbdkit,
  timed,
} from "./link-peers.js";
import { fioIops, libnbdIops, MIX_READ_PERCENT, type RandomMix } from "./nbd-random.js";

const run = promisify(execFile);
const GIB = 1024 ** 3;
const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? 2 * GIB);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RANDOM_OPS = Number(process.env.BENCH_RANDOM_OPS ?? 20_000);
const QUEUE_DEPTH = 16;
const TRACK = 57_344;
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "gsnap-nbd-bench-"));

const CLIENTS = [
  { name: "libnbd", key: "libnbd", iops: libnbdIops },
  { name: "fio nbd", key: "fio", iops: fioIops },
] as const;

const MIXES: { mix: RandomMix; name: string }[] = [
  { mix: "read", name: "4 KiB random reads" },
  { mix: "write", name: "4 KiB random writes" },
  { mix: "mix", name: `4 KiB random ${MIX_READ_PERCENT}/${100 - MIX_READ_PERCENT} read/write` },
];

type Add = (key: string, value: number) => void;

/** How often, and for how long at most, the benchmark asks whether the collector is done. */
const QUIET_POLL_MS = 500;
const QUIET_MAX_MS = 120_000;

/**
 * Waits until the server has merged its write-back journal and its collector has done nothing for
 * one poll: merges and the space a deleted volume held come back in the background, and their CPU
 * would count against the measure that follows.
 */
async function settled(server: ServeProcess): Promise<void> {
  let last = "";
  const started = Date.now();
  while (Date.now() - started < QUIET_MAX_MS) {
    const response = await fetch(`${server.apiUrl}/v1/stats`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const { store } = (await response.json()) as {
      store: { collector: unknown; journal: { entries: number } };
    };
    const totals = JSON.stringify(store.collector);
    if (store.journal.entries === 0 && totals === last) return;
    last = totals;
    await new Promise((resolve) => setTimeout(resolve, QUIET_POLL_MS));
  }
}

/**
 * Runs `work`, adding its result and the CPU seconds the server `pid` spent under `key`: until
 * `settle` resolves after it, where given, so that a write's CPU includes merging it.
 */
async function measured(
  add: Add,
  key: string,
  options: { pid: number | undefined; work: () => Promise<number>; settle?: () => Promise<void> },
): Promise<void> {
  assert(options.pid !== undefined, "a measured server has started");
  const before = cpuSeconds(options.pid);
  add(key, await options.work());
  await options.settle?.();
  add(`${key}Cpu`, cpuSeconds(options.pid) - before);
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
  const sides = [
    { side: "Ours", uri: server.nbdUri("BENCH"), pid: server.child.pid },
    { side: "Peer", uri: nbdkit.uri, pid: nbdkit.child.pid },
  ];
  const results: Record<string, number[]> = {};
  const add: Add = (key, value) => {
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
    const copy = (args: string[]) => () => timed("nbdcopy", args);
    for (let i = 0; i < RUNS; i += 1) {
      await fresh();
      for (const { side, uri, pid } of sides) {
        await measured(add, `write${side}`, { pid, work: copy([source, uri]) });
        await run("sync", []);
      }
      await fresh();
      for (const { side, uri, pid } of sides) {
        await measured(add, `writeFlush${side}`, { pid, work: copy(["--flush", source, uri]) });
        await run("sync", []);
      }
      await settled(server);
      for (const { side, uri, pid } of sides) {
        await measured(add, `read${side}`, { pid, work: copy([uri, "null:"]) });
      }
    }
    // Each random run starts on a settled store, and our CPU for it runs until the journal has
    // merged what it wrote and the collector is quiet again: the work a write leaves for later
    // is part of its cost (nbdkit leaves none). Reads right after writes, while the journal
    // merges them, are measured too: what a host sees meanwhile.
    const settle = async () => settled(server);
    for (let i = 0; i < RUNS; i += 1) {
      await settled(server);
      for (const client of CLIENTS) {
        const options = (uri: string, mix: RandomMix) => ({
          uri,
          mix,
          ops: RANDOM_OPS,
          depth: QUEUE_DEPTH,
          dir,
        });
        for (const { mix } of MIXES) {
          for (const { side, uri, pid } of sides) {
            await measured(add, `${client.key}-${mix}${side}`, {
              pid,
              work: () => client.iops(options(uri, mix)),
              settle: side === "Ours" ? settle : undefined,
            });
          }
        }
        for (const { side, uri, pid } of sides) {
          await client.iops(options(uri, "write"));
          await measured(add, `${client.key}-readMerging${side}`, {
            pid,
            work: () => client.iops(options(uri, "read")),
          });
          await settled(server);
        }
      }
    }
    const rss = peakRssMiB(server.child.pid);
    printTable(results);
    console.log(`\nPeak RSS of gsnap serve: ${rss.toFixed(0)} MiB`);
  } finally {
    nbdkit.child.kill();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(results: Record<string, number[]>): void {
  const gib = TOTAL_BYTES / GIB;
  console.log(
    `\nNBD benchmark: ${gib} GiB, ${RANDOM_OPS} random operations, median of ${RUNS} runs, ` +
      `gsnap serve vs nbdkit file plugin, same disk\n`,
  );
  console.log("| measure | client | gsnap | nbdkit file | ratio | gsnap CPU | nbdkit CPU |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  const row = (name: string, client: string, key: string, unit: "GiB/s" | "IOPS") => {
    const ours = median(results[`${key}Ours`]);
    const peer = median(results[`${key}Peer`]);
    const cpuOurs = median(results[`${key}OursCpu`]);
    const cpuPeer = median(results[`${key}PeerCpu`]);
    // A copy's result is its seconds; a random run's, its operations per second.
    const rate = (value: number) => (unit === "GiB/s" ? gib / value : value);
    const cpu = (seconds: number) =>
      unit === "GiB/s"
        ? `${(seconds / gib).toFixed(2)} s/GiB`
        : `${((seconds / RANDOM_OPS) * 1e6).toFixed(0)} µs/op`;
    const cells = [
      name,
      client,
      `${rate(ours).toFixed(2)} ${unit}`,
      `${rate(peer).toFixed(2)} ${unit}`,
      `${(rate(ours) / rate(peer)).toFixed(2)}x`,
      cpu(cpuOurs),
      cpu(cpuPeer),
    ];
    console.log(`| ${cells.join(" | ")} |`);
  };
  row("file -> export", "nbdcopy", "write", "GiB/s");
  row("file -> export, --flush", "nbdcopy", "writeFlush", "GiB/s");
  row("export -> null:", "nbdcopy", "read", "GiB/s");
  for (const client of CLIENTS) {
    for (const { mix, name } of MIXES) {
      row(`${name}, ${QUEUE_DEPTH} in flight`, client.name, `${client.key}-${mix}`, "IOPS");
    }
    row(
      `4 KiB random reads right after ${RANDOM_OPS} random writes, while they merge`,
      client.name,
      `${client.key}-readMerging`,
      "IOPS",
    );
  }
  console.log(
    "\nRandom runs start on a settled store; gsnap's CPU for writes and the mix includes merging " +
      "what they wrote into track chunks (and collecting what that freed), measured until it was done.",
  );
}

await main();
