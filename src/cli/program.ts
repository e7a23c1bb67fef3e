// The `gsnap` command line: commander wiring of every command. Each command's work lives in its
// own file; this file only declares commands, options and help.

import { Command, CommanderError } from "commander";
import type { ChunksSettings } from "../daemon/chunks-config.js";
import { callApi, resolveTarget } from "./api-client.js";
import { addChunksOptions } from "./chunks-options.js";
import { addCompletionCommands } from "./completion-command.js";
import { checkDataDir, chunksSettingsOf, printCheckReport } from "./fsck-command.js";
import { addGscCommand } from "./gsc-command.js";
import { addJobCommands } from "./job-commands.js";
import { reportError } from "./output.js";
import { addPairCommands } from "./pair-commands.js";
import { addPathCommands } from "./path-commands.js";
import { addReservationCommands } from "./reservation-commands.js";
import { addServeCommand } from "./serve-command.js";
import { addSystemCommands } from "./system-command.js";
import { addVolumeCommands } from "./volume-commands.js";

/** Exit code for a command line commander cannot parse (unknown option, missing argument). */
export const USAGE_EXIT_CODE = 2;

export function buildProgram(): Command {
  const program = new Command("gsnap")
    .description("gsnap: a software storage system with thin CKD volumes and instant snap copy")
    .option("--api <url>", "the server's API (else GSNAP_API, else http://127.0.0.1:8480)")
    .option("--token <token>", "the API token (else GSNAP_TOKEN, else ./gsnap-data/token)")
    .showHelpAfterError()
    .exitOverride();

  addServeCommand(program);
  addSystemCommands(program);
  addVolumeCommands(program);
  addPathCommands(program);
  addPairCommands(program);
  addGscCommand(program);
  addJobCommands(program);
  addReservationCommands(program);

  addChunksOptions(program.command("fsck"))
    .description("Check a store: every chunk checksum and every reference count")
    .argument(
      "[data-dir]",
      "check this data dir directly (no server may have it open); else ask the server",
    )
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  gsnap fsck               # the running server checks its store\n  gsnap fsck ./gsnap-data  # check a stopped system's data dir\n  gsnap fsck ./gsnap-data --chunks s3://gsnap/sys1 --s3-endpoint http://rgw:7480\n",
    )
    .action(async (dataDir: string | undefined, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<
        { api?: string; token?: string; json?: boolean } & ChunksSettings
      >();
      const report =
        dataDir === undefined
          ? await callApi<Parameters<typeof printCheckReport>[0]>(resolveTarget(globals), {
              method: "POST",
              path: "/v1/fsck",
            })
          : await checkDataDir(dataDir, chunksSettingsOf(globals));
      printCheckReport(report, globals.json === true);
    });

  addCompletionCommands(program);
  return program;
}

/** Runs the CLI on `argv` and returns the process exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
    }
    return reportError(error, argv.includes("--json"));
  }
}
