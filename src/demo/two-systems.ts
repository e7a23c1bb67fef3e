// The demo's two storage systems: real `gsnap serve` processes on temporary data dirs, each with
// its serial and SSID and a peer-link listener on a free port, sharing one link secret.

import fs from "node:fs";
import path from "node:path";
import { type ServeProcess, startServe } from "../testing/serve-process.js";

/** Both systems must hold the same secret to accept each other's links. */
const LINK_SECRET = "gsnap-demo-link-secret";

export interface SystemIdentity {
  readonly name: string;
  readonly serial: string;
  readonly ssid: string;
}

export const SYSTEM_A: SystemIdentity = { name: "A", serial: "0000000001", ssid: "01A0" };
export const SYSTEM_B: SystemIdentity = { name: "B", serial: "0000000002", ssid: "01B0" };

export async function startSystem(
  identity: SystemIdentity,
  workDir: string,
): Promise<ServeProcess> {
  const dataDir = path.join(workDir, `system-${identity.name.toLowerCase()}`);
  fs.mkdirSync(dataDir);
  return startServe({
    dataDir,
    args: [
      "--serial",
      identity.serial,
      "--ssid",
      identity.ssid,
      "--link",
      "127.0.0.1:0",
      "--link-secret",
      LINK_SECRET,
    ],
  });
}

/** `SERIAL.SSID`, how the CLI names a remote subsystem. */
export function subsystemName(identity: SystemIdentity): string {
  return `${identity.serial}.${identity.ssid}`;
}
