// How the CLI names the GSC job an intermediate volume or a pair belongs to: its id and the
// system that runs it, since a target's S' belongs to a job of the source system.

import type { JobRef } from "../store/volume-record.js";

/** "J000001 on 0000000001"; undefined (printed "-") for a volume or pair of no job. */
export function jobRefText(job: JobRef | undefined): string | undefined {
  return job === undefined ? undefined : `${job.id} on ${job.serial}`;
}
