// What a pair request is made of, checked: the local VOLSER, the remote `SERIAL.SSID.VOLSER`, the
// mode and critical. Pure logic: every bad input gets its typed error here, before any I/O.

import { GsnapError } from "../errors/gsnap-error.js";
import { checkSerial, checkSsid, checkVolser } from "../geometry/names.js";
import type { EstablishPairRequest, PairMode } from "./pair-service.js";

/** A volume on a remote storage system. */
export interface RemoteVolume {
  readonly serial: string;
  readonly ssid: string;
  readonly volser: string;
}

export interface PairSpec {
  readonly volser: string;
  readonly remote: RemoteVolume;
  readonly mode: PairMode;
  readonly critical: boolean;
}

const MODES: readonly string[] = ["sync", "copy"];

/** `SERIAL.SSID.VOLSER`, the way operators and the API name a remote volume. */
export function formatRemoteVolume(volume: RemoteVolume): string {
  return `${volume.serial}.${volume.ssid}.${volume.volser}`;
}

/**
 * Parses `SERIAL.SSID.VOLSER`: three dot-separated parts (REQUEST_INVALID otherwise), each checked
 * (SERIAL_INVALID, SSID_INVALID, VOLSER_INVALID).
 */
export function parseRemoteVolume(text: string): RemoteVolume {
  const parts = text.split(".");
  if (parts.length !== 3) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot use remote volume "${text}": write it as SERIAL.SSID.VOLSER, like 0000000002.01A0.VOL900`,
    );
  }
  return {
    serial: checkSerial(parts[0]),
    ssid: checkSsid(parts[1]),
    volser: checkVolser(parts[2]),
  };
}

/** Checks a request to establish a pair; returns the pair it asks for. */
export function checkEstablishPair(request: EstablishPairRequest): PairSpec {
  const volser = checkVolser(request.volser);
  const remote = parseRemoteVolume(request.secondary);
  if (!MODES.includes(request.mode)) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot establish a pair in mode "${request.mode}": the modes are sync and copy`,
    );
  }
  const critical = request.critical === true;
  if (critical && request.mode !== "sync") {
    throw new GsnapError(
      "REQUEST_INVALID",
      "Cannot establish a critical pair in mode copy: critical applies to sync pairs only",
    );
  }
  return { volser, remote, mode: request.mode, critical };
}
