// Where `gsnap serve` takes its secrets (the API token, the link secret) from, and what it says of
// them: a value or a file (not both), the environment as the fallback, and a warning for a secret
// given as a flag, which `ps` shows every user. Pure but for reading a secret's file.

import fs from "node:fs";
import { GsnapError } from "../errors/gsnap-error.js";
import type { ServeSettings } from "./config.js";

/**
 * The environment variables `gsnap serve` takes its secrets from, by setting. The server's token has
 * a name of its own: GSNAP_TOKEN is the CLI's, often exported for another system.
 */
export const SECRET_ENVIRONMENT = {
  token: "GSNAP_SERVE_TOKEN",
  linkSecret: "GSNAP_LINK_SECRET",
} as const;

/**
 * The secrets the environment gives (GSNAP_SERVE_TOKEN, GSNAP_LINK_SECRET), for those that `given` (the
 * flags and the config file) sets neither as a value nor as a file: the environment is the
 * fallback, so a flag or a file always wins and never clashes with it. Pure.
 */
export function environmentSecrets(
  environment: Readonly<Record<string, string | undefined>>,
  given: ServeSettings,
): ServeSettings {
  const found: ServeSettings = {};
  for (const [key, name] of Object.entries(SECRET_ENVIRONMENT) as [
    keyof typeof SECRET_ENVIRONMENT,
    string,
  ][]) {
    const value = environment[name];
    if (value === undefined || value === "") continue;
    if (given[key] !== undefined || given[`${key}File`] !== undefined) continue;
    found[key] = value;
  }
  return found;
}

/**
 * Warnings for secrets given as flags, which `ps` shows every user of the machine: each names the
 * flag and what to use instead. Pure.
 */
export function secretFlagWarnings(flags: { token?: string; linkSecret?: string }): string[] {
  const warnings: string[] = [];
  if (flags.token !== undefined) {
    warnings.push(
      "the API token is given with --token, on the command line that ps shows every user: use --token-file or GSNAP_SERVE_TOKEN",
    );
  }
  if (flags.linkSecret !== undefined) {
    warnings.push(
      "the link secret is given with --link-secret, on the command line that ps shows every user: use --link-secret-file, --link-peer or GSNAP_LINK_SECRET",
    );
  }
  return warnings;
}

/**
 * A secret given as a value or as a file holding it (one line; the trailing newline dropped):
 * not both, and a file that cannot be read or holds nothing is refused, naming the file.
 */
export function secretOf(
  settings: ServeSettings,
  keys: { value: "token" | "linkSecret"; file: "tokenFile" | "linkSecretFile"; what: string },
): string | undefined {
  const value = settings[keys.value];
  const file = settings[keys.file];
  if (file === undefined) return value;
  const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (value !== undefined) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use the ${keys.what}: give ${flag(keys.value)} or ${flag(keys.file)}, not both`,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot read the ${keys.what} from "${file}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret === "" || secret.includes("\n")) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use the ${keys.what} in "${file}": it must hold one line, not empty`,
    );
  }
  return secret;
}
