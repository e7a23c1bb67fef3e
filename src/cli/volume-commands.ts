// `gsnap volume create|list|show|delete` and `gsnap snap`: volumes and snap copies through the API.

import type { Command } from "commander";
import type { InconsistentMark, VolumeInfo, VolumeUsage } from "../store/volume-record.js";
import { callApi, resolveTarget } from "./api-client.js";
import { CompletionArgument } from "./completion-argument.js";
import { jobRefText } from "./job-ref-text.js";
import { formatBytes, printFields, printJson, printTable } from "./output.js";

interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

const VOLUME_COLUMNS: [string, string][] = [
  ["VOLSER", "volser"],
  ["SSID", "ssid"],
  ["MODEL", "model"],
  ["CYLINDERS", "cylinders"],
  ["TRACKS", "trackCount"],
  ["SIZE", "size"],
  ["READ-ONLY", "readOnly"],
  ["INTERMEDIATE OF", "job"],
  ["INCONSISTENT", "inconsistent"],
];

function printVolume(volume: VolumeInfo | VolumeUsage): void {
  const fields: [string, unknown][] = [
    ["volser", volume.volser],
    ["ssid", volume.ssid],
    ["model", volume.model],
    [
      "geometry",
      `${volume.cylinders} cylinders x ${volume.heads} heads, ${volume.trackSizeBytes} bytes per track`,
    ],
    ["tracks", volume.trackCount],
    ["size", formatBytes(volume.sizeBytes)],
    ["read-only", volume.readOnly],
    ["created", volume.createdAt],
  ];
  if (volume.inconsistent !== undefined)
    fields.push(["inconsistent", inconsistentText(volume.inconsistent)]);
  if (volume.job !== undefined) {
    fields.push([
      "job",
      `intermediate of GSC job ${jobRefText(volume.job)}, which deletes it when it ends`,
    ]);
  }
  if ("allocatedTracks" in volume) {
    const share = volume.trackCount === 0 ? 0 : (100 * volume.allocatedTracks) / volume.trackCount;
    fields.push([
      "allocated",
      `${volume.allocatedTracks} tracks, ${formatBytes(volume.allocatedBytes)} (${share.toFixed(1)}%)`,
    ]);
  }
  printFields(fields);
}

/** The VOLSER of an existing volume, completed from the server's volumes. */
function existingVolume(): CompletionArgument {
  return new CompletionArgument({ name: "<volser>", description: "the volume", values: "volumes" });
}

/** Why a volume is part old, part new: the copy that left it so, and since when. */
export function inconsistentText(mark: InconsistentMark): string {
  const job = mark.job === undefined ? "" : ` (GSC job ${jobRefText(mark.job)})`;
  return `yes: a copy from ${mark.pair}${job} stopped before it completed, since ${mark.since}`;
}

export function addVolumeCommands(program: Command): void {
  const volume = program.command("volume").description("Create, list, show and delete volumes");

  volume
    .command("create")
    .description("Create a thin volume")
    .argument("<volser>", "1 to 6 characters from A-Z 0-9 @ # $")
    .option("--model <model>", "3390-1, -2, -3, -9, -27, -54 or 3390-A (default 3390-3)")
    .option("--cylinders <n>", "cylinder count (3390-A: 1 to 1,182,006)", Number)
    .option("--ssid <ssid>", "the subsystem, 4 hex digits (default: the system's first)")
    .option("--track-size <bytes>", "bytes per track, a multiple of 4096 (default 57344)", Number)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  gsnap volume create VOL001 --model 3390-9\n  gsnap volume create VOL002 --cylinders 100 --ssid 01A0\n",
    )
    .action(
      async (
        volser: string,
        options: { model?: string; cylinders?: number; ssid?: string; trackSize?: number },
        command: Command,
      ) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const body = {
          volser,
          model: options.model,
          cylinders: options.cylinders,
          ssid: options.ssid,
          trackSizeBytes: options.trackSize,
        };
        const created = await callApi<VolumeInfo>(resolveTarget(globals), {
          method: "POST",
          path: "/v1/volumes",
          body: withoutUndefined(body),
        });
        if (globals.json) printJson(created);
        else printVolume(created);
      },
    );

  volume
    .command("list")
    .description("List the volumes")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  gsnap volume list --json\n")
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const volumes = await callApi<VolumeInfo[]>(resolveTarget(globals), {
        method: "GET",
        path: "/v1/volumes",
      });
      if (globals.json) printJson(volumes);
      else
        printTable(
          volumes.map((item) => ({
            ...item,
            size: formatBytes(item.sizeBytes),
            job: jobRefText(item.job),
            inconsistent: item.inconsistent === undefined ? undefined : "yes",
          })),
          VOLUME_COLUMNS,
        );
    });

  volume
    .command("show")
    .description("Show a volume's geometry and allocation")
    .addArgument(existingVolume())
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  gsnap volume show VOL001\n")
    .action(async (volser: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const shown = await callApi<VolumeUsage>(resolveTarget(globals), {
        method: "GET",
        path: `/v1/volumes/${encodeURIComponent(volser)}`,
      });
      if (globals.json) printJson(shown);
      else printVolume(shown);
    });

  volume
    .command("delete")
    .description("Delete a volume; its space comes back in the background")
    .addArgument(existingVolume())
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  gsnap volume delete VOL002\n")
    .action(async (volser: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      await callApi(resolveTarget(globals), {
        method: "DELETE",
        path: `/v1/volumes/${encodeURIComponent(volser)}`,
      });
      if (globals.json) printJson({ deleted: volser });
      else process.stdout.write(`Deleted volume ${volser}\n`);
    });

  program
    .command("snap")
    .description(
      "Snap copy extents of a volume into another (or the same) volume: pointers move, data does not",
    )
    .argument("<source>", "VOLSER:C.H-C.H[+C.H-C.H...]")
    .addArgument(
      new CompletionArgument({
        name: "<target>",
        description: "VOLSER (same addresses) or VOLSER:C.H-C.H[+...] (same track count)",
        values: "volumes",
      }),
    )
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  gsnap snap VOL001:0.0-9.14 VOL002\n  gsnap snap VOL001:0.0-9.14 VOL002:100.0-109.14\n",
    )
    .action(async (source: string, target: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const result = await callApi<{ tracks: number }>(resolveTarget(globals), {
        method: "POST",
        path: "/v1/snap",
        body: { source, target },
      });
      if (globals.json) printJson(result);
      else process.stdout.write(`Snapped ${result.tracks} tracks from ${source} to ${target}\n`);
    });
}

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));
}
