// `gsnap reservation list|release`: the GSC reservations peers' jobs hold on this system, through
// the API. Release is for a job whose source is gone for good; reservations also expire by
// themselves after `gsnap serve --reservation-timeout` without a request of their job.

import type { Command } from "commander";
import type { Reservation, ReservationView } from "../gsc/reservation-table.js";
import { callApi, resolveTarget } from "./api-client.js";
import { examples, printJson, printTable } from "./output.js";

interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

export function addReservationCommands(program: Command): void {
  const reservation = program
    .command("reservation")
    .description("List and release the reservations peers' GSC jobs hold on this system");

  reservation
    .command("list")
    .description("List the reservations: job, peer serial, volume, extents, since, expiry")
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap reservation list", "gsnap reservation list --json"))
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const list = await callApi<ReservationView[]>(resolveTarget(globals), {
        method: "GET",
        path: "/v1/reservations",
      });
      if (globals.json) {
        printJson(list);
        return;
      }
      printTable(
        list.map((r) => ({
          ...r,
          extents: r.extents ?? "(whole volume)",
          created: r.created ? "yes (deleted at release)" : "no",
        })),
        [
          ["JOB", "job"],
          ["PEER", "peer"],
          ["VOLSER", "volser"],
          ["EXTENTS", "extents"],
          ["CREATED", "created"],
          ["SINCE", "since"],
          ["EXPIRES", "expiresAt"],
        ],
      );
    });

  reservation
    .command("release")
    .description(
      "Release every reservation of a volume, as its job's end would: a pair left on it ends, a volume made for the job is deleted",
    )
    .argument("<volser>", "the reserved volume")
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap reservation release VOL900"))
    .action(async (volser: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const result = await callApi<{ released: Reservation[]; deleted: string[] }>(
        resolveTarget(globals),
        { method: "POST", path: `/v1/reservations/${encodeURIComponent(volser)}/release` },
      );
      if (globals.json) {
        printJson(result);
        return;
      }
      for (const r of result.released) {
        const deleted = result.deleted.includes(r.volser) ? " (deleted)" : "";
        process.stdout.write(`released ${r.volser} of job ${r.job} of ${r.peer}${deleted}\n`);
      }
    });
}
