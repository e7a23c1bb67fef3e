// The mark on a GSC job's own volumes and pairs (its intermediates P' and S', and the pair that
// copies between them), so that they do not pass for ordinary ones: "intermediate of job
// J000001". When this system runs the job, its id links to the job in the jobs view; a target's
// S' belongs to a job of the source system, which is named in words instead.

import { el } from "./dom.js";

/**
 * `job` is the API's `{ id, serial }`; `serial` is this system's; `words` what the item is to
 * the job: "intermediate of job" or "copy of job".
 */
export function jobMark(job, { serial, words }) {
  if (job.serial !== serial) {
    return el("span", { class: "job-mark", text: `${words} ${job.id} of system ${job.serial}` });
  }
  const link = el("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, text: job.id });
  return el("span", { class: "job-mark" }, `${words} `, link);
}
