// The random-I/O clients of the NBD benchmark (bench/nbd.ts): 4 KiB requests at random 4 KiB-aligned
// offsets with a fixed number in flight, through two clients storage people use, each answering
// the operations per second it reached:
// - libnbd's Python binding (Debian's python3-libnbd), a script of our own;
// - fio's NBD engine (`fio --ioengine=nbd --uri=...`), the tool storage benchmarks are run with.
// Reads, writes, or a mix of them (70 % reads, as in fio's usual OLTP-like mix).

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type RandomMix = "read" | "write" | "mix";

/** Of the mix, the share of reads in percent: fio's --rwmixread. */
export const MIX_READ_PERCENT = 70;

const LIBNBD_SCRIPT = `
import nbd, random, sys, time
uri, ops, depth, mix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
read_share = {"read": 1.0, "write": 0.0, "mix": ${MIX_READ_PERCENT} / 100}[mix]
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
        if random.random() < read_share:
            h.aio_pread(buf, offset, completion=finished)
        else:
            h.aio_pwrite(buf, offset, completion=finished)
        issued += 1
    h.poll(-1)
print(ops / (time.monotonic() - start))
`;

export interface RandomRun {
  readonly uri: string;
  readonly mix: RandomMix;
  readonly ops: number;
  readonly depth: number;
  /** A directory for the client's script and output. */
  readonly dir: string;
}

/** Operations per second through libnbd's Python binding. */
export async function libnbdIops(options: RandomRun): Promise<number> {
  const script = path.join(options.dir, "gsnap_random_io.py");
  fs.writeFileSync(script, LIBNBD_SCRIPT);
  // Debian's python3 has libnbd's module; a python3 earlier on PATH (pyenv) may not.
  const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const args = [script, options.uri, String(options.ops), String(options.depth), options.mix];
  const { stdout } = await run(python, args);
  return Number(stdout.trim());
}

const FIO_RW: Record<RandomMix, string[]> = {
  read: ["--rw=randread"],
  write: ["--rw=randwrite"],
  mix: ["--rw=randrw", `--rwmixread=${MIX_READ_PERCENT}`],
};

interface FioSide {
  readonly total_ios: number;
}

/** Operations per second (reads and writes together) through fio's NBD engine. */
export async function fioIops(options: RandomRun): Promise<number> {
  const output = path.join(options.dir, "fio.json");
  await run("fio", [
    "--name=gsnap-bench",
    "--ioengine=nbd",
    `--uri=${options.uri}`,
    ...FIO_RW[options.mix],
    "--bs=4k",
    `--iodepth=${options.depth}`,
    `--number_ios=${options.ops}`,
    "--randrepeat=1",
    "--output-format=json",
    `--output=${output}`,
  ]);
  const report = JSON.parse(fs.readFileSync(output, "utf8")) as {
    jobs: { read: FioSide; write: FioSide; job_runtime: number }[];
  };
  const [job] = report.jobs;
  const ios = job.read.total_ios + job.write.total_ios;
  return ios / (job.job_runtime / 1000);
}
