// `gsnap job list|show|wait|cancel`: global snap copy jobs through the API.

import type { Command } from "commander";
import type { JobInfo } from "../gsc/job-service.js";
import { callApi, resolveTarget } from "./api-client.js";
import { CompletionArgument } from "./completion-argument.js";
import { followJob, jobPath, reportJobEnd } from "./job-follow.js";
import { printJobDetails, printJobs } from "./job-print.js";
import { examples, printJson } from "./output.js";

interface GlobalOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

/** A job id argument, completed from the server's jobs. */
function jobIdArgument(): CompletionArgument {
  return new CompletionArgument({
    name: "<id>",
    description: "the job id, like J000001",
    values: "jobs",
  });
}

export function addJobCommands(program: Command): void {
  const job = program
    .command("job")
    .description("List, show, wait for and cancel global snap copy jobs");

  job
    .command("list")
    .description("List the jobs, newest first, with their state, step and progress")
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap job list", "gsnap job list --json"))
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const jobs = await callApi<JobInfo[]>(resolveTarget(globals), {
        method: "GET",
        path: "/v1/jobs",
      });
      if (globals.json) printJson(jobs);
      else printJobs(jobs);
    });

  job
    .command("show")
    .description("Show one job: its state, step, progress, step timings and result")
    .addArgument(jobIdArgument())
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap job show J000001", "gsnap job show J000001 --json"))
    .action(async (id: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const shown = await callApi<JobInfo>(resolveTarget(globals), {
        method: "GET",
        path: jobPath(id),
      });
      if (globals.json) printJson(shown);
      else printJobDetails(shown);
    });

  job
    .command("wait")
    .description("Follow a job to its end, showing its progress; exit with its result")
    .addArgument(jobIdArgument())
    .option("--json", "print the ended job as JSON")
    .addHelpText("after", examples("gsnap job wait J000001", "gsnap job wait J000001 --json"))
    .action(async (id: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const ended = await followJob(resolveTarget(globals), id);
      reportJobEnd(ended, globals.json === true);
    });

  job
    .command("cancel")
    .description("Cancel a queued or running job; it cleans up what it made and ends cancelled")
    .addArgument(jobIdArgument())
    .option("--json", "print JSON")
    .addHelpText("after", examples("gsnap job cancel J000001", "gsnap job cancel J000001 --json"))
    .action(async (id: string, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const cancelled = await callApi<JobInfo>(resolveTarget(globals), {
        method: "POST",
        path: jobPath(id, "/cancel"),
      });
      if (globals.json) printJson(cancelled);
      else process.stdout.write(`Cancelled job ${cancelled.id} at step ${cancelled.step}\n`);
    });
}
