// Validation of the names DESIGN.md gives things: VOLSER, SSID, storage system serial. Pure logic.

import { GsnapError } from "../errors/gsnap-error.js";

const VOLSER_PATTERN = /^[A-Z0-9@#$]{1,6}$/;
const SSID_PATTERN = /^[0-9A-F]{4}$/;
const SERIAL_PATTERN = /^[0-9A-Z]{1,10}$/;

/**
 * The subsystem of a system started without --ssid, and of a volume created without one: 01A0,
 * the SSID that DESIGN.md, the docs and every `--help` example name, so that the examples run
 * against a system started with the defaults.
 */
export const DEFAULT_SSID = "01A0";

/** Whether `volser` is a valid VOLSER (for checks that answer with their own error). */
export function isVolser(volser: string): boolean {
  return VOLSER_PATTERN.test(volser);
}

/** A VOLSER: 1 to 6 characters from A-Z 0-9 @ # $. Lower case is refused, not folded. */
export function checkVolser(volser: string): string {
  if (!isVolser(volser)) {
    throw new GsnapError(
      "VOLSER_INVALID",
      `Cannot use VOLSER "${volser}": a VOLSER is 1 to 6 characters from A-Z 0-9 @ # $`,
    );
  }
  return volser;
}

/** An SSID: 4 hex digits; lower-case digits are accepted and returned upper-case. */
export function checkSsid(ssid: string): string {
  const upper = ssid.toUpperCase();
  if (!SSID_PATTERN.test(upper)) {
    throw new GsnapError("SSID_INVALID", `Cannot use SSID "${ssid}": an SSID is 4 hex digits`);
  }
  return upper;
}

/** A storage system serial: 1 to 10 characters from 0-9 A-Z. */
export function checkSerial(serial: string): string {
  if (!SERIAL_PATTERN.test(serial)) {
    throw new GsnapError(
      "SERIAL_INVALID",
      `Cannot use serial "${serial}": a serial is 1 to 10 characters from 0-9 A-Z`,
    );
  }
  return serial;
}
