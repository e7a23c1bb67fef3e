// How the demo talks: numbered steps, the commands it runs shown as a user would type them, and
// their output indented under them.

import type { ServeProcess } from "../testing/serve-process.js";

export function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function indent(text: string): string {
  return text.trimEnd().replace(/^(?=.)/gm, "     ");
}

/** Runs a CLI command against `server` that must succeed, showing it; answers its stdout. */
export async function gsnap(server: ServeProcess, ...args: string[]): Promise<string> {
  say(`   $ gsnap ${args.map(quoted).join(" ")}`);
  return stdoutOf(server, args);
}

/** Runs a CLI command that must succeed without showing it; answers its stdout parsed as JSON. */
export async function gsnapJson<T>(server: ServeProcess, ...args: string[]): Promise<T> {
  return JSON.parse(await stdoutOf(server, [...args, "--json"])) as T;
}

/** The stdout of a CLI command; a failure throws with the command, its exit code and stderr. */
async function stdoutOf(server: ServeProcess, args: string[]): Promise<string> {
  const result = await server.cli(...args);
  if (result.code !== 0) {
    throw new Error(
      `gsnap ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** An argument as a shell user would type it: quoted when it holds spaces or a `*`. */
export function quoted(arg: string): string {
  return /[\s*]/.test(arg) ? `"${arg}"` : arg;
}
