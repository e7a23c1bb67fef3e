// `gsnap gsc "P, P', S[, S']"` (or the same with --source, --intermediate, --target and
// --target-intermediate): starts a global snap copy and, with --wait, follows it to its end.

import type { Command } from "commander";
import { GsnapError } from "../errors/gsnap-error.js";
import { GSC_EXAMPLE, GSC_FORM, splitGscText } from "../gsc/gsc-spec.js";
import type { GscRequest, JobInfo } from "../gsc/job-service.js";
import { callApi, resolveTarget } from "./api-client.js";
import { followJob, reportJobEnd } from "./job-follow.js";
import { examples, printJson } from "./output.js";

interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

export interface GscOptions {
  source?: string;
  intermediate?: string;
  target?: string;
  targetIntermediate?: string;
  bandwidth?: string;
  notify?: string;
  wait?: boolean;
}

const EXAMPLES = [
  GSC_EXAMPLE,
  'gsnap gsc "VOL001:0.0-99.14, P00001, 0000012345.01A0.VOL900" --wait',
  'gsnap gsc "VOL001:0.0-9.14+20.0-29.14, *, 0000012345.01A0.VOL900, S00001" --bandwidth 200',
  "gsnap gsc --source VOL001:0.0-99.14 --intermediate '*' --target 0000012345.01A0.VOL900 --json",
  'gsnap gsc "VOL001:0.0-99.14, *, 0000012345.01A0.VOL900" --notify https://ops.example.com/gsc',
];

/** The request the command line asks for: from the positional text or from the flags, not both. */
export function gscRequestOf(text: string | undefined, options: GscOptions): GscRequest {
  const flags = [options.source, options.intermediate, options.target, options.targetIntermediate];
  const flagsGiven = flags.some((flag) => flag !== undefined);
  if (text !== undefined && flagsGiven) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot start a GSC: give either the request text ${GSC_FORM} or the flags ` +
        "--source, --intermediate, --target [--target-intermediate], not both",
    );
  }
  const parts = text !== undefined ? splitGscText(text) : partsOfFlags(options);
  return { ...parts, ...extraOptions(options) };
}

function partsOfFlags(options: GscOptions): ReturnType<typeof splitGscText> {
  const { source, intermediate, target, targetIntermediate } = options;
  if (source === undefined || intermediate === undefined || target === undefined) {
    throw new GsnapError(
      "GSC_REQUEST_MALFORMED",
      `Cannot start a GSC: give the request as ${GSC_FORM}, like ${GSC_EXAMPLE}, ` +
        "or all of --source, --intermediate and --target",
    );
  }
  return targetIntermediate === undefined
    ? { source, intermediate, target }
    : { source, intermediate, target, targetIntermediate };
}

function extraOptions(options: GscOptions): Pick<GscRequest, "bandwidthMBps" | "notifyUrl"> {
  const extra: { bandwidthMBps?: number; notifyUrl?: string } = {};
  if (options.bandwidth !== undefined) {
    const bandwidth = Number(options.bandwidth);
    if (options.bandwidth.trim() === "" || !Number.isFinite(bandwidth)) {
      throw new GsnapError(
        "REQUEST_INVALID",
        `Cannot start a GSC: --bandwidth "${options.bandwidth}" is not a number; give MB/s, like 200`,
      );
    }
    extra.bandwidthMBps = bandwidth;
  }
  if (options.notify !== undefined) extra.notifyUrl = options.notify;
  return extra;
}

export function addGscCommand(program: Command): void {
  program
    .command("gsc")
    .description(
      "Global snap copy: snap extents of a local volume and copy them to a remote volume",
    )
    .argument(
      "[request]",
      `${GSC_FORM}: source extents, intermediate, target[, target intermediate]`,
    )
    .option("--source <P>", "P: the source volume and extents, VOLSER:C.H-C.H[+C.H-C.H...]")
    .option("--intermediate <P'>", "P': the intermediate volume here, a VOLSER or * to allocate")
    .option("--target <S>", "S: the target, SERIAL.SSID.VOLSER[:C.H-C.H...] (an extent needs S')")
    .option("--target-intermediate <S'>", "S': the intermediate on the target, a VOLSER or *")
    .option("--bandwidth <MBPS>", "cap the transfer at this many MB/s")
    .option("--notify <URL>", "POST the job's JSON to this http(s) URL when it ends")
    .option("--wait", "follow the job to its end, showing its progress, and exit with its result")
    .option("--json", "print JSON")
    .addHelpText("after", examples(...EXAMPLES))
    .action(async (text: string | undefined, options: GscOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const request = gscRequestOf(text, options);
      const target = resolveTarget(globals);
      const job = await callApi<JobInfo>(target, {
        method: "POST",
        path: "/v1/gsc",
        body: request,
      });
      if (options.wait) {
        reportJobEnd(await followJob(target, job.id), globals.json === true);
      } else if (globals.json) printJson(job);
      else process.stdout.write(`${job.id}\n`);
    });
}
