// Tells the notify URL of a GSC job that it ended (docs/gsc.md, "Notify"): its JSON is POSTed
// once; a failure is logged and not retried, since the job's result is kept and can be asked for.

import type { JobInfo } from "./job-service.js";

/** A notify URL that has not answered within this is given up. */
const NOTIFY_TIMEOUT_MS = 10_000;

export async function notifyJob(
  job: JobInfo,
  logger?: { warn(obj: object, msg: string): void },
): Promise<void> {
  const url = job.request.notifyUrl;
  if (url === undefined) return;
  try {
    await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(job),
      signal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS),
    });
  } catch (error) {
    logger?.warn({ job: job.id, url, err: String(error) }, "job notification failed");
  }
}
