// The storage system's identity, kept in its data dir: a serial number and an API token, each
// generated at first start unless configured. The token file is readable by its owner only.

import { randomBytes, randomInt } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const SERIAL_FILE = "serial";
export const TOKEN_FILE = "token";
const SERIAL_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** 10 characters, the longest serial DESIGN allows: unlikely to collide between systems. */
const SERIAL_LENGTH = 10;

export interface Identity {
  readonly serial: string;
  readonly token: string;
  /** True when this start generated the token, so the daemon prints it once. */
  readonly tokenGenerated: boolean;
}

export function loadIdentity(
  dataDir: string,
  configured: { serial?: string; token?: string },
): Identity {
  fs.mkdirSync(dataDir, { recursive: true });
  const serial =
    configured.serial ?? readOrCreate(path.join(dataDir, SERIAL_FILE), newSerial, 0o644).value;
  if (configured.token !== undefined)
    return { serial, token: configured.token, tokenGenerated: false };
  const token = readOrCreate(
    path.join(dataDir, TOKEN_FILE),
    () => randomBytes(24).toString("base64url"),
    0o600,
  );
  return { serial, token: token.value, tokenGenerated: token.created };
}

function newSerial(): string {
  return Array.from(
    { length: SERIAL_LENGTH },
    () => SERIAL_ALPHABET[randomInt(SERIAL_ALPHABET.length)],
  ).join("");
}

function readOrCreate(
  file: string,
  make: () => string,
  mode: number,
): { value: string; created: boolean } {
  try {
    return { value: fs.readFileSync(file, "utf8").trim(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const value = make();
  fs.writeFileSync(file, `${value}\n`, { mode });
  return { value, created: true };
}
