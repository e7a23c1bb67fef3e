// The `gsnap` command line: commander wiring of every command. Each command's work lives in its
// own file; this file only declares commands, options and help.

import { Command, CommanderError } from "commander";
import { checkDataDir, printCheckReport } from "./fsck-command.js";
import { reportError } from "./output.js";

/** Exit code for a command line commander cannot parse (unknown option, missing argument). */
export const USAGE_EXIT_CODE = 2;

export function buildProgram(): Command {
  const program = new Command("gsnap")
    .description("gsnap: a software storage system with thin CKD volumes and instant snap copy")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("fsck")
    .description("Check a store: every chunk checksum and every reference count")
    .argument("<data-dir>", "the data dir of a store no server has open")
    .option("--json", "print the report as JSON")
    .addHelpText("after", "\nExample:\n  gsnap fsck ./gsnap-data\n")
    .action(async (dataDir: string, options: { json?: boolean }) => {
      printCheckReport(await checkDataDir(dataDir), options.json === true);
    });

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
