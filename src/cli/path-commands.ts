// `gsnap path establish|list|remove`: replication paths to remote subsystems through the API.

import type { Command } from "commander";
import type { PathInfo } from "../pprc/path-state.js";
import { callApi, resolveTarget } from "./api-client.js";
import { printJson, printTable } from "./output.js";

interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

interface PathOptions {
  ssid: string;
  to: string;
  link?: string;
  /** --no-wait: keep the path even if no link came up. */
  wait?: boolean;
}

const PATH_COLUMNS: [string, string][] = [
  ["SSID", "ssid"],
  ["TO", "to"],
  ["STATE", "state"],
  ["LINKS", "links"],
];

/** One row per path; each link as ADDRESS (state[: reason]). */
function pathRow(path: PathInfo): Record<string, unknown> {
  const links = path.links.map(
    (link) => `${link.address} (${link.state}${link.reason ? `: ${link.reason}` : ""})`,
  );
  return {
    ssid: path.ssid,
    to: `${path.remoteSerial}.${path.remoteSsid}`,
    state: path.state,
    links: links.join(", "),
  };
}

export function addPathCommands(program: Command): void {
  const path = program
    .command("path")
    .description("Establish, list and remove replication paths to remote subsystems");

  path
    .command("establish")
    .description("Establish a path from a local subsystem to a remote one through 1 to 8 links")
    .requiredOption("--ssid <ssid>", "the local subsystem, 4 hex digits")
    .requiredOption("--to <serial.ssid>", "the remote subsystem: its system's serial and its SSID")
    .requiredOption("--link <host:port,...>", "1 to 8 link addresses of the remote system")
    .option(
      "--no-wait",
      "keep the path even if no link comes up at once (its links go on trying); without it such a path is not kept and the command fails with PATH_FAILED",
    )
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nEach link is tried once before the command answers: it fails (PATH_FAILED, and no path is kept) when none came up, naming each link's reason, and warns on stderr about links that failed beside ones that came up.\n\nExamples:\n  gsnap path establish --ssid 01A0 --to 0000000002.01A0 --link 10.0.0.2:8481\n  gsnap path establish --ssid 01A0 --to 0000000002.01A0 --link 10.0.0.2:8481,10.0.1.2:8481 --json\n  gsnap path establish --ssid 01A0 --to 0000000002.01A0 --link 10.0.0.2:8481 --no-wait\n",
    )
    .action(async (options: PathOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const established = await callApi<PathInfo>(resolveTarget(globals), {
        method: "POST",
        path: "/v1/paths",
        body: {
          ssid: options.ssid,
          to: options.to,
          links: (options.link ?? "").split(",").filter((link) => link.trim() !== ""),
          ...(options.wait === false ? { keepFailed: true } : {}),
        },
      });
      for (const link of established.links) {
        if (link.state === "failed") {
          process.stderr.write(`gsnap: warning: link ${link.address} is down: ${link.reason}\n`);
        }
      }
      if (globals.json) printJson(established);
      else printTable([pathRow(established)], PATH_COLUMNS);
    });

  path
    .command("list")
    .description("List the paths with their states and each link's state and reason")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExamples:\n  gsnap path list\n  gsnap path list --json\n")
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const paths = await callApi<PathInfo[]>(resolveTarget(globals), {
        method: "GET",
        path: "/v1/paths",
      });
      if (globals.json) printJson(paths);
      else printTable(paths.map(pathRow), PATH_COLUMNS);
    });

  path
    .command("remove")
    .description("Remove a path and close its links")
    .requiredOption("--ssid <ssid>", "the local subsystem, 4 hex digits")
    .requiredOption("--to <serial.ssid>", "the remote subsystem")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  gsnap path remove --ssid 01A0 --to 0000000002.01A0\n")
    .action(async (options: PathOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      await callApi(resolveTarget(globals), {
        method: "DELETE",
        path: `/v1/paths/${encodeURIComponent(options.ssid)}/${encodeURIComponent(options.to)}`,
      });
      const removed = { ssid: options.ssid, to: options.to };
      if (globals.json) printJson({ removed });
      else process.stdout.write(`Removed path from ${options.ssid} to ${options.to}\n`);
    });
}
