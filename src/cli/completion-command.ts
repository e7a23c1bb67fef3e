// `gsnap completion bash|zsh` prints a shell's completion script; the hidden
// `gsnap __complete -- WORDS...` is what that script runs on each Tab. It prints the candidates
// for the last word, one a line, from the commander tree (completion-candidates.ts) and, for a
// VOLSER or a job id, from the server: asked with a short timeout, and silent when it is down,
// slow or refuses the token, so that completion never gets in the way.

import type { Command } from "commander";
import { GsnapError } from "../errors/gsnap-error.js";
import type { JobInfo } from "../gsc/job-service.js";
import type { PairInfo } from "../pprc/pair-service.js";
import type { VolumeInfo } from "../store/volume-record.js";
import { callApi, resolveTarget } from "./api-client.js";
import { CompletionArgument, type CompletionLookup } from "./completion-argument.js";
import { completionCandidates } from "./completion-candidates.js";
import { COMPLETION_SHELLS, completionScript, isCompletionShell } from "./completion-scripts.js";
import { examples } from "./output.js";

/**
 * How long a Tab waits for the server's list. A server on the LAN answers these in milliseconds;
 * past this the user is better served by no list than by a frozen prompt.
 */
const LOOKUP_TIMEOUT_MS = 1_000;

export function addCompletionCommands(program: Command): void {
  program
    .command("completion")
    .description("Print the bash or zsh completion script: commands, flags, VOLSERs, job ids")
    .addArgument(
      new CompletionArgument({
        name: "<shell>",
        description: COMPLETION_SHELLS.join(" or "),
        values: COMPLETION_SHELLS,
      }),
    )
    .addHelpText(
      "after",
      examples(
        "source <(gsnap completion bash)   # bash, this shell; add the line to ~/.bashrc to keep it",
        "gsnap completion bash > ~/.local/share/bash-completion/completions/gsnap",
        "source <(gsnap completion zsh)    # zsh, after compinit; add the line to ~/.zshrc",
        "gsnap completion zsh > ~/.zfunc/_gsnap   # zsh, with fpath=(~/.zfunc $fpath) before compinit",
      ),
    )
    .action((shell: string) => {
      if (!isCompletionShell(shell)) {
        throw new GsnapError(
          "REQUEST_INVALID",
          `Cannot print a completion script for "${shell}": gsnap completes ${COMPLETION_SHELLS.join(" and ")}`,
        );
      }
      process.stdout.write(completionScript(shell, program.name()));
    });

  program
    .command("__complete", { hidden: true })
    .description("Print the completions of the last of WORDS, one a line (for the scripts)")
    .argument("[words...]", "the words after the program's name, the last one being typed")
    // Every word after `--` is the user's, --help and unknown flags included.
    .helpOption(false)
    .allowUnknownOption()
    .action(async (words: string[]) => {
      const completion = completionCandidates(program, words);
      const looked =
        completion.lookup === undefined
          ? []
          : await lookUp(completion.lookup, completion.programOptions);
      const candidates = [
        ...completion.candidates,
        ...looked.filter((value) => value.startsWith(completion.prefix)),
      ];
      for (const candidate of candidates) process.stdout.write(`${candidate}\n`);
    });
}

/** The server's list, or none when the server cannot give it at once. */
async function lookUp(
  lookup: CompletionLookup,
  programOptions: Readonly<Record<string, string>>,
): Promise<string[]> {
  const target = resolveTarget({ api: programOptions.api, token: programOptions.token });
  const get = <T>(path: string) =>
    callApi<T>(target, { method: "GET", path, timeoutMs: LOOKUP_TIMEOUT_MS });
  try {
    switch (lookup) {
      case "volumes":
        return (await get<VolumeInfo[]>("/v1/volumes")).map((volume) => volume.volser);
      case "pairs":
        return (await get<PairInfo[]>("/v1/pairs")).map((pair) => pair.volser);
      case "jobs":
        return (await get<JobInfo[]>("/v1/jobs")).map((job) => job.id);
    }
  } catch {
    // Down, slow (the timeout also cuts a reply half read), a refused or missing token: a Tab
    // offers nothing rather than an error in the middle of the user's line.
    return [];
  }
}
