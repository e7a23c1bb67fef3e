// A command argument that says which values complete it: a fixed list (the shells of
// `gsnap completion`) or a list only the server knows (its volumes, the volumes in its pairs, its
// jobs). The shell completion reads this off the commander tree, so each command says what its
// arguments take where it declares them, and a new command cannot be forgotten in a second list.

import { Argument } from "commander";

/** The server's lists that can complete an argument, each read from one API route. */
export type CompletionLookup = "volumes" | "pairs" | "jobs";

export interface CompletionArgumentSpec {
  /** As commander writes it: `<volser>` (required) or `[volser]` (optional). */
  readonly name: string;
  readonly description: string;
  /** The words that complete it, or the server's list that does. */
  readonly values: CompletionLookup | readonly string[];
}

export class CompletionArgument extends Argument {
  readonly values: CompletionLookup | readonly string[];

  constructor(spec: CompletionArgumentSpec) {
    super(spec.name, spec.description);
    this.values = spec.values;
  }
}
