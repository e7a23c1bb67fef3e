// The completion's candidates on the real gsnap program tree, the one `gsnap` runs.

import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { completionCandidates } from "./completion-candidates.js";
import { buildProgram } from "./program.js";

const program = buildProgram();
const complete = (...words: string[]) => completionCandidates(program, words);
const candidates = (...words: string[]) => complete(...words).candidates;

/** Every command under `command` with the words that reach it, `--help`'s hidden ones left out. */
function commandPaths(command: Command, words: string[] = []): [string[], Command][] {
  const below = command
    .createHelp()
    .visibleCommands(command)
    .filter((sub) => command.commands.includes(sub));
  return [[words, command], ...below.flatMap((sub) => commandPaths(sub, [...words, sub.name()]))];
}

describe("completionCandidates", () => {
  it("offers every top-level command at an empty word, and not the hidden __complete", () => {
    const offered = candidates("");
    expect(offered).toEqual(expect.arrayContaining(["serve", "volume", "pair", "gsc", "job"]));
    expect(offered).toEqual(expect.arrayContaining(["completion", "help"]));
    expect(offered).not.toContain("__complete");
  });

  it("offers the commands that start with what is typed", () => {
    expect(candidates("vo")).toEqual(["volume"]);
    expect(candidates("s")).toEqual(["serve", "system", "snap"]);
    expect(candidates("x")).toEqual([]);
  });

  it("offers nested subcommands", () => {
    expect(candidates("pair", "est")).toEqual(["establish"]);
    expect(candidates("volume", "")).toEqual(["create", "list", "show", "delete", "help"]);
    expect(candidates("--api", "http://h:1", "job", "c")).toEqual(["cancel"]);
  });

  it("offers a command's flags, then the program's, each once", () => {
    expect(candidates("pair", "establish", "--")).toEqual([
      "--mode",
      "--critical",
      "--wait",
      "--json",
      "--help",
      "--api",
      "--token",
    ]);
    expect(candidates("pair", "establish", "--c")).toEqual(["--critical"]);
    expect(candidates("path", "establish", "--no")).toEqual(["--no-wait"]);
    expect(candidates("-")).toEqual(["--api", "--token", "--help"]);
  });

  it("leaves out the flags already on the line", () => {
    const offered = candidates("pair", "establish", "VOL001", "--mode", "sync", "--json", "--");
    expect(offered).not.toContain("--mode");
    expect(offered).not.toContain("--json");
    expect(offered).toContain("--wait");
  });

  it("reaches every command of the program and offers each flag its --help lists", () => {
    for (const [words, command] of commandPaths(program)) {
      const flags = command
        .createHelp()
        .visibleOptions(command)
        .map((option) => option.long);
      expect(candidates(...words, "--"), words.join(" ")).toEqual(expect.arrayContaining(flags));
      const subcommands = command.createHelp().visibleCommands(command);
      if (subcommands.length > 0)
        expect(candidates(...words, ""), words.join(" ")).toEqual(subcommands.map((c) => c.name()));
    }
  });

  it("asks the server for VOLSERs where a command takes an existing volume", () => {
    for (const words of [
      ["volume", "show", "VO"],
      ["volume", "delete", "VO"],
      ["pair", "establish", "VO"],
      ["snap", "VOL001:0.0-9.14", "VO"],
    ]) {
      expect(complete(...words), words.join(" ")).toMatchObject({
        candidates: [],
        lookup: "volumes",
        prefix: "VO",
      });
    }
  });

  it("asks for the paired volumes for a pair's commands and for job ids for a job's", () => {
    for (const action of ["show", "suspend", "resume", "terminate"])
      expect(complete("pair", action, "").lookup, action).toBe("pairs");
    for (const action of ["show", "wait", "cancel"])
      expect(complete("job", action, "J0")).toMatchObject({ lookup: "jobs", prefix: "J0" });
  });

  it("asks for nothing where a word is a new name, a remote volume or an option's value", () => {
    expect(complete("volume", "create", "").lookup).toBeUndefined();
    expect(complete("pair", "establish", "VOL001", "").lookup).toBeUndefined();
    expect(complete("volume", "show", "VOL001", "").lookup).toBeUndefined();
    expect(complete("job", "show", "--api", "")).toMatchObject({
      candidates: [],
      lookup: undefined,
    });
    expect(complete("serve", "--data", "")).toMatchObject({ candidates: [], lookup: undefined });
  });

  it("counts a flag and its value as no argument", () => {
    expect(complete("volume", "show", "--json", "").lookup).toBe("volumes");
    expect(complete("pair", "establish", "--mode", "sync", "").lookup).toBe("volumes");
    expect(complete("pair", "establish", "--mode=sync", "VOL001", "").lookup).toBeUndefined();
  });

  it("passes the program's --api and --token on the line to the lookup", () => {
    const completion = complete("--api", "http://h:1", "volume", "show", "--token", "t0", "");
    expect(completion.programOptions).toEqual({ api: "http://h:1", token: "t0" });
    // After the subcommand it is still the program's: commander parses the program's options first.
    expect(complete("volume", "show", "--api=http://h:2", "").programOptions).toEqual({
      api: "http://h:2",
    });
  });

  it("joins the words bash splits at : and =", () => {
    const split = ["--api", "=", "http", ":", "//h", ":", "1", "volume", "show", "VOL001", ""];
    expect(complete(...split)).toMatchObject({
      programOptions: { api: "http://h:1" },
      lookup: undefined,
    });
    expect(complete("snap", "VOL001", ":", "0.0-9.14", "V")).toMatchObject({
      lookup: "volumes",
      prefix: "V",
    });
  });

  it("completes the word without its shell quoting", () => {
    expect(candidates("'vo")).toEqual(["volume"]);
    expect(complete("volume", "show", "A\\#")).toMatchObject({ lookup: "volumes", prefix: "A#" });
  });

  it("offers the shells of `gsnap completion`", () => {
    expect(candidates("completion", "")).toEqual(["bash", "zsh"]);
    expect(candidates("completion", "z")).toEqual(["zsh"]);
  });

  it("offers no flags after --", () => {
    expect(candidates("volume", "show", "--", "--j")).toEqual([]);
    expect(complete("volume", "show", "--", "-V").lookup).toBe("volumes");
  });
});
