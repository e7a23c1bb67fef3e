// `gsnap pair establish|list|show|suspend|resume|terminate`: replication pairs through the API.

import type { Command } from "commander";
import type { PairInfo } from "../pprc/pair-service.js";
import { type ApiTarget, callApi, resolveTarget } from "./api-client.js";
import { CompletionArgument } from "./completion-argument.js";
import { examples, printJson, printTable } from "./output.js";
import { PAIR_COLUMNS, pairRow } from "./pair-row.js";
import { waitForDuplex } from "./pair-wait.js";

interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

interface EstablishOptions {
  mode: string;
  critical?: boolean;
  wait?: boolean;
}

function pairPath(volser: string, action = ""): string {
  return `/v1/pairs/${encodeURIComponent(volser)}${action}`;
}

/** Prints pairs as JSON (the API's) or as a table. */
function printPairs(pairs: PairInfo | PairInfo[], json: boolean | undefined): void {
  if (json) printJson(pairs);
  else printTable((Array.isArray(pairs) ? pairs : [pairs]).map(pairRow), PAIR_COLUMNS);
}

/** With --wait, the pair once it is duplex; else the pair as the API answered it. */
async function settle(target: ApiTarget, pair: PairInfo, wait: boolean | undefined) {
  return wait ? waitForDuplex(target, pair.volser) : pair;
}

/** The VOLSER of a volume in a pair, completed from the server's pairs. */
function pairedVolume(description: string): CompletionArgument {
  return new CompletionArgument({ name: "<volser>", description, values: "pairs" });
}

export function addPairCommands(program: Command): void {
  const pair = program
    .command("pair")
    .description("Establish, watch, suspend, resume and terminate replication pairs");

  pair
    .command("establish")
    .description("Pair a local volume with a remote one and start the initial copy")
    .addArgument(
      new CompletionArgument({
        name: "<volser>",
        description: "the local volume, the primary",
        values: "volumes",
      }),
    )
    .argument("<secondary>", "the remote volume: SERIAL.SSID.VOLSER")
    .requiredOption("--mode <mode>", "sync (each write mirrored) or copy (background copy)")
    .option("--critical", "sync only: while suspended, host writes to the primary fail")
    .option("--wait", "wait until the initial copy is done (duplex), showing its progress")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      examples(
        "gsnap pair establish VOL001 0000000002.01A0.VOL001 --mode sync --wait",
        "gsnap pair establish VOL001 0000000002.01A0.VOL900 --mode sync --critical",
        "gsnap pair establish VOL002 0000000002.01A0.VOL002 --mode copy --json",
      ),
    )
    .action(
      async (volser: string, secondary: string, options: EstablishOptions, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const target = resolveTarget(globals);
        const established = await callApi<PairInfo>(target, {
          method: "POST",
          path: "/v1/pairs",
          body: { volser, secondary, mode: options.mode, critical: options.critical === true },
        });
        printPairs(await settle(target, established, options.wait), globals.json);
      },
    );

  pair
    .command("list")
    .description("List the pairs of this system, primary or secondary, with their progress")
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap pair list", "gsnap pair list --json"))
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const pairs = await callApi<PairInfo[]>(resolveTarget(globals), {
        method: "GET",
        path: "/v1/pairs",
      });
      printPairs(pairs, globals.json);
    });

  pair
    .command("show")
    .description("Show the pair of one local volume")
    .addArgument(pairedVolume("the local volume"))
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap pair show VOL001", "gsnap pair show VOL001 --json"))
    .action(async (volser: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const shown = await callApi<PairInfo>(resolveTarget(globals), {
        method: "GET",
        path: pairPath(volser),
      });
      printPairs(shown, globals.json);
    });

  pair
    .command("suspend")
    .description("Stop mirroring; the primary records the changed tracks (primary only)")
    .addArgument(pairedVolume("the primary volume"))
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap pair suspend VOL001", "gsnap pair suspend VOL001 --json"))
    .action(async (volser: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const suspended = await callApi<PairInfo>(resolveTarget(globals), {
        method: "POST",
        path: pairPath(volser, "/suspend"),
      });
      printPairs(suspended, globals.json);
    });

  pair
    .command("resume")
    .description("Copy the changed tracks of a suspended pair and mirror again (primary only)")
    .addArgument(pairedVolume("the primary volume"))
    .option("--wait", "wait until the pair is duplex again, showing the copy's progress")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      examples("gsnap pair resume VOL001", "gsnap pair resume VOL001 --wait --json"),
    )
    .action(async (volser: string, options: { wait?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const target = resolveTarget(globals);
      const resumed = await callApi<PairInfo>(target, {
        method: "POST",
        path: pairPath(volser, "/resume"),
      });
      printPairs(await settle(target, resumed, options.wait), globals.json);
    });

  pair
    .command("terminate")
    .description("End the pair; from the primary, the secondary is told too")
    .addArgument(pairedVolume("the local volume, primary or secondary"))
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      examples("gsnap pair terminate VOL001", "gsnap pair terminate VOL001 --json"),
    )
    .action(async (volser: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      await callApi(resolveTarget(globals), { method: "DELETE", path: pairPath(volser) });
      if (globals.json) printJson({ terminated: volser });
      else process.stdout.write(`Terminated the pair of ${volser}\n`);
    });
}
