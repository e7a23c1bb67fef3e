// What to offer for the word being typed on a gsnap command line: the pure core of the shell
// completion (`gsnap completion`). It walks the commander tree the way commander parses a line
// (subcommands, options and their values, `--`), so the commands and flags it offers are the real
// CLI's and cannot drift from it. Values only the server knows (VOLSERs, job ids) come back as a
// lookup for the caller to make: this file does no I/O.

import type { Command, Option } from "commander";
import { CompletionArgument, type CompletionLookup } from "./completion-argument.js";

export interface Completion {
  /** The words to offer: those that start with the word being typed. */
  readonly candidates: readonly string[];
  /** The server's list to offer (the values starting with `prefix`), when the word is one. */
  readonly lookup: CompletionLookup | undefined;
  /** The word being typed, without its shell quoting. */
  readonly prefix: string;
  /** The values of the program's own options on the line (--api, --token), by attribute name. */
  readonly programOptions: Readonly<Record<string, string>>;
}

/** How far a walk through the words before the one being typed has come. */
interface Walk {
  command: Command;
  /** The positional arguments of `command` typed so far. */
  argumentCount: number;
  /** The option whose value the next word is, with the command that owns it. */
  pending: OwnedOption | undefined;
  /** After `--` every word is an argument, even one that starts with "-". */
  argumentsOnly: boolean;
  readonly usedFlags: Set<string>;
  readonly programOptions: Record<string, string>;
}

interface OwnedOption {
  readonly option: Option;
  readonly owner: Command;
}

const NOTHING = { candidates: [], lookup: undefined } as const;

/**
 * The completion of the last of `words`: the words typed after the program's name, as the shell
 * split them, the last being the one under the cursor ("" at the start of a new word).
 */
export function completionCandidates(program: Command, words: readonly string[]): Completion {
  const typed = joinWordBreaks(words.map(unquote));
  const prefix = typed.length === 0 ? "" : typed[typed.length - 1];
  const walk: Walk = {
    command: program,
    argumentCount: 0,
    pending: undefined,
    argumentsOnly: false,
    usedFlags: new Set(),
    programOptions: {},
  };
  for (const word of typed.slice(0, -1)) step(walk, word);
  return { ...offer(walk, prefix), prefix, programOptions: walk.programOptions };
}

function step(walk: Walk, word: string): void {
  const pending = walk.pending;
  walk.pending = undefined;
  // An option whose value is optional takes the next word only if it is not a flag (commander).
  if (pending !== undefined && !(pending.option.optional && isFlag(walk, word))) {
    record(walk, pending, word);
    return;
  }
  if (!walk.argumentsOnly && word === "--") {
    walk.argumentsOnly = true;
    return;
  }
  if (isFlag(walk, word)) {
    takeOption(walk, word);
    return;
  }
  const subcommand =
    walk.argumentCount === 0
      ? visibleCommands(walk.command).find(
          (command) => command.name() === word || command.aliases().includes(word),
        )
      : undefined;
  if (subcommand === undefined) walk.argumentCount += 1;
  else walk.command = subcommand;
}

/** Notes a flag as used and, when it takes a value, where that value is. Unknown flags are skipped. */
function takeOption(walk: Walk, word: string): void {
  const equals = word.startsWith("--") ? word.indexOf("=") : -1;
  const flag = equals === -1 ? word : word.slice(0, equals);
  // The outermost command that knows a flag takes it, wherever it stands: commander parses the
  // program's options before its subcommand's (so `serve --api` is the program's --api too).
  for (const owner of chainOf(walk.command)) {
    const option = visibleOptions(owner).find((item) => item.long === flag || item.short === flag);
    if (option === undefined) continue;
    walk.usedFlags.add(option.long ?? flag);
    if (!option.required && !option.optional) return;
    if (equals === -1) walk.pending = { option, owner };
    else record(walk, { option, owner }, word.slice(equals + 1));
    return;
  }
}

function record(walk: Walk, { option, owner }: OwnedOption, value: string): void {
  if (owner.parent === null) walk.programOptions[option.attributeName()] = value;
}

function offer(walk: Walk, prefix: string): Pick<Completion, "candidates" | "lookup"> {
  const flag = !walk.argumentsOnly && prefix.startsWith("-");
  // The value of an option: gsnap knows nothing to offer for one (the shell offers file names).
  if (walk.pending !== undefined && !(walk.pending.option.optional && flag)) return NOTHING;
  if (flag) return { candidates: startingWith(flagsOf(walk), prefix), lookup: undefined };
  const subcommands = walk.argumentCount === 0 ? visibleCommands(walk.command) : [];
  if (subcommands.length > 0) {
    const names = subcommands.map((command) => command.name());
    return { candidates: startingWith(names, prefix), lookup: undefined };
  }
  const argument = argumentAt(walk.command, walk.argumentCount);
  if (!(argument instanceof CompletionArgument)) return NOTHING;
  if (typeof argument.values === "string") return { candidates: [], lookup: argument.values };
  return { candidates: startingWith(argument.values, prefix), lookup: undefined };
}

/** The flags of the command and of the commands above it, each once, less those already used. */
function flagsOf(walk: Walk): string[] {
  const flags = chainOf(walk.command)
    .reverse()
    .flatMap((owner) => visibleOptions(owner).map((option) => option.long ?? option.short ?? ""));
  return [...new Set(flags)].filter((flag) => flag !== "" && !walk.usedFlags.has(flag));
}

function argumentAt(command: Command, index: number) {
  const declared = command.registeredArguments;
  if (index < declared.length) return declared[index];
  const last = declared.at(-1);
  return last?.variadic ? last : undefined;
}

/** The program, its subcommand, ..., down to `command`. */
function chainOf(command: Command): Command[] {
  const chain: Command[] = [];
  for (let at: Command | null = command; at !== null; at = at.parent) chain.unshift(at);
  return chain;
}

/** The subcommands `--help` lists (hidden ones, like `__complete`, left out; `help` in). */
function visibleCommands(command: Command): Command[] {
  return command.createHelp().visibleCommands(command);
}

/** The options `--help` lists, `--help` itself among them. */
function visibleOptions(command: Command): Option[] {
  return command.createHelp().visibleOptions(command);
}

function isFlag(walk: Walk, word: string): boolean {
  return !walk.argumentsOnly && word.length > 1 && word.startsWith("-");
}

function startingWith(values: readonly string[], prefix: string): string[] {
  return values.filter((value) => value.startsWith(prefix));
}

/** The word as the command will get it: `'VOL'` and `VOL\#` typed give `VOL` and `VOL#`. */
function unquote(word: string): string {
  return word.replace(/\\(.)|["']/g, (_, escaped: string | undefined) => escaped ?? "");
}

/**
 * Bash splits words at ":" and "=" as well (COMP_WORDBREAKS), so `--api=http://h:1` comes as
 * `--api`, `=`, `http`, `:`, `//h`, `:`, `1`. This joins them back: a word of only ":" and "="
 * glues its neighbours, as no gsnap word is one on its own.
 */
function joinWordBreaks(words: readonly string[]): string[] {
  const joined: string[] = [];
  let glue = false;
  for (const word of words) {
    const separator = word !== "" && /^[:=]+$/.test(word);
    if ((separator || glue) && joined.length > 0) joined.push(`${joined.pop()}${word}`);
    else joined.push(word);
    glue = separator;
  }
  return joined;
}
