// `gsnap system show`: the storage system's identity, subsystems and capacity.

import type { Command } from "commander";
import { callApi, resolveTarget } from "./api-client.js";
import { formatBytes, printFields, printJson } from "./output.js";

interface SystemReply {
  serial: string;
  ssids: string[];
  version: string;
  volumes: number;
  capacity: { segmentBytes: number; liveBytes: number };
  chunks: {
    kind: string;
    url?: string;
    endpoint?: string;
    stagedBytes?: number;
    cacheBytes?: number;
  };
}

export function addSystemCommands(program: Command): void {
  const system = program.command("system").description("The storage system");
  system
    .command("show")
    .description("Show the serial, subsystems, volumes and capacity")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  gsnap system show --api http://127.0.0.1:8480\n")
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<{ api?: string; token?: string; json?: boolean }>();
      const info = await callApi<SystemReply>(resolveTarget(globals), {
        method: "GET",
        path: "/v1/system",
      });
      if (globals.json) {
        printJson(info);
        return;
      }
      printFields([
        ["serial", info.serial],
        ["subsystems", info.ssids.join(", ")],
        ["version", info.version],
        ["volumes", info.volumes],
        [
          "stored",
          `${formatBytes(info.capacity.liveBytes)} live in ${formatBytes(info.capacity.segmentBytes)} of segments`,
        ],
        ["chunks", chunksLine(info.chunks)],
      ]);
    });
}

/** "local", or "s3://b/p/ at http://host:7480 (1.0 MiB staged, 20.0 MiB cached)". */
function chunksLine(chunks: SystemReply["chunks"] | undefined): string {
  if (chunks === undefined || chunks.kind === "local") return "local";
  const at = chunks.endpoint === undefined ? "" : ` at ${chunks.endpoint}`;
  const staged = formatBytes(chunks.stagedBytes ?? 0);
  return `${chunks.url}${at} (${staged} staged, ${formatBytes(chunks.cacheBytes ?? 0)} cached)`;
}
