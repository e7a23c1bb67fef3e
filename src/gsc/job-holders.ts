// Which job of this system holds a volume: verification refuses a GSC into a target extent that
// an unended job copies to, and a P' another unended job uses. Pure.

import { type Extent, extentListsOverlap, parseExtentList } from "../geometry/address.js";
import type { JobRecord } from "./job-record.js";
import { isJobEnded } from "./job-states.js";

/** The id of an unended job copying to `target` (the volume without S', the extents with). */
export function jobCopyingTo(
  records: Iterable<JobRecord>,
  target: { serial: string; volser: string; extents: Extent[] },
): string | undefined {
  for (const record of records) {
    const { plan } = record;
    if (
      isJobEnded(record.info) ||
      plan.target.serial !== target.serial ||
      plan.target.volser !== target.volser
    ) {
      continue;
    }
    // Without S', a job holds the whole target volume (it is its pair's secondary).
    if (plan.targetIntermediate === undefined) return record.info.id;
    if (extentListsOverlap(parseExtentList(plan.target.extents), target.extents))
      return record.info.id;
  }
  return undefined;
}

/** The id of an unended job whose P' is `volser`. */
export function jobUsingIntermediate(
  records: Iterable<JobRecord>,
  volser: string,
): string | undefined {
  for (const record of records) {
    if (!isJobEnded(record.info) && record.plan.intermediate.volser === volser) {
      return record.info.id;
    }
  }
  return undefined;
}

/** The P' names jobs hold or were promised: those of unended jobs and of pending clean-ups. */
export function promisedIntermediates(records: Iterable<JobRecord>): string[] {
  return [...records]
    .filter((record) => !isJobEnded(record.info) || record.cleanupPending)
    .map((record) => record.plan.intermediate.volser)
    .filter((volser) => volser !== undefined);
}
