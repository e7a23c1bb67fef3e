// Global snap copy routes: start a GSC, list, show and cancel its jobs, wait for one to end (a long
// poll) or follow it as server-sent events. The work is the JobService's (gsc/); without one every
// route answers PATHS_UNAVAILABLE.

import type { FastifyInstance, FastifyReply } from "fastify";
import { GsnapError } from "../errors/gsnap-error.js";
import type { GscRequest, JobInfo, JobService } from "../gsc/job-service.js";
import { isJobEnded } from "../gsc/job-states.js";
import { ERROR_RESPONSES, NO_QUERY } from "./api-schemas.js";
import {
  DEFAULT_WAIT_SECONDS,
  GSC_BODY,
  JOB_ID_PARAMS,
  JOB_INFO_SCHEMA,
  MAX_WAIT_SECONDS,
  WAIT_QUERY,
} from "./job-schemas.js";
import { refuseBody } from "./refuse-body.js";
import { requireService } from "./require-service.js";

/**
 * An event stream with nothing to say sends a comment this often, so that proxies and clients
 * that cut idle connections (often after 30 to 60 s) keep it open through a long transfer step.
 */
export const SSE_HEARTBEAT_MS = 15_000;

type IdRequest = { Params: { id: string } };
type WaitRequest = IdRequest & { Querystring: { timeoutSeconds?: string } };

export function jobRoutes(app: FastifyInstance, jobs: JobService | undefined): void {
  const service = requireService(jobs, "global snap copy jobs");
  // Long polls and event streams end when the API closes, so that closing does not wait for them.
  const closing = new AbortController();
  app.addHook("preClose", async () => closing.abort());
  const idSchema = (summary: string, response: object, querystring: object = NO_QUERY) => ({
    summary,
    tags: ["jobs"],
    params: JOB_ID_PARAMS,
    querystring,
    response: { ...response, ...ERROR_RESPONSES },
  });

  app.post<{ Body: GscRequest }>(
    "/v1/gsc",
    {
      config: { action: "start a global snap copy" },
      schema: {
        summary: "Checks a GSC request and starts it as a job; answers 202 with the job",
        tags: ["jobs"],
        querystring: NO_QUERY,
        body: GSC_BODY,
        response: { 202: JOB_INFO_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const job = await service("start a global snap copy").start(request.body);
      return reply.code(202).send(job);
    },
  );

  app.get(
    "/v1/jobs",
    {
      config: { action: "list jobs" },
      schema: {
        summary: "Every job, newest first",
        tags: ["jobs"],
        querystring: NO_QUERY,
        response: { 200: { type: "array", items: JOB_INFO_SCHEMA }, ...ERROR_RESPONSES },
      },
    },
    async () => service("list jobs").list(),
  );

  app.get<IdRequest>(
    "/v1/jobs/:id",
    {
      config: { action: "show a job" },
      schema: idSchema("One job: its state, step, progress, step timings and result", {
        200: JOB_INFO_SCHEMA,
      }),
    },
    async (request) => service("show a job").show(request.params.id),
  );

  app.post<IdRequest>(
    "/v1/jobs/:id/cancel",
    {
      config: { action: "cancel a job" },
      preValidation: refuseBody,
      schema: idSchema(
        "Cancels a queued or running job; it cleans up and ends cancelled. Takes no body.",
        {
          200: JOB_INFO_SCHEMA,
        },
      ),
    },
    async (request) => service("cancel a job").cancel(request.params.id),
  );

  app.get<WaitRequest>(
    "/v1/jobs/:id/wait",
    {
      config: { action: "wait for a job" },
      schema: idSchema(
        "Answers the job once it has ended, or as it is when timeoutSeconds run out",
        { 200: JOB_INFO_SCHEMA },
        WAIT_QUERY,
      ),
    },
    async (request) => {
      const timeoutSeconds = waitSeconds(request.query.timeoutSeconds);
      return waitForEnd(service("wait for a job"), request.params.id, {
        timeoutMs: timeoutSeconds * 1000,
        signal: closing.signal,
      });
    },
  );

  app.get<IdRequest>(
    "/v1/jobs/:id/events",
    {
      config: { action: "follow a job" },
      schema: idSchema(
        "Server-sent events: `event: job` with the job's JSON now and at each change; the " +
          "stream ends after the job ends",
        {
          200: {
            description: "text/event-stream",
            content: { "text/event-stream": { schema: { type: "string" } } },
          },
        },
      ),
    },
    async (request, reply) => {
      const jobService = service("follow a job");
      // Refusals (JOB_NOT_FOUND) are answered as JSON before the stream starts.
      jobService.show(request.params.id);
      streamJob(reply, { jobs: jobService, id: request.params.id, signal: closing.signal });
    },
  );
}

function waitSeconds(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_SECONDS;
  const seconds = Number(text);
  if (seconds > MAX_WAIT_SECONDS) {
    throw new GsnapError(
      "REQUEST_INVALID",
      `Cannot wait for a job: timeoutSeconds ${seconds} is more than ${MAX_WAIT_SECONDS}; ` +
        "wait again after a shorter timeout",
    );
  }
  return seconds;
}

/** The job once it ends, or as it is after `timeoutMs` or when `signal` aborts. */
function waitForEnd(
  jobs: JobService,
  id: string,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<JobInfo> {
  const job = jobs.show(id);
  if (isJobEnded(job) || options.signal.aborted) return Promise.resolve(job);
  return new Promise((resolve) => {
    const finish = () => {
      stop();
      clearTimeout(timer);
      options.signal.removeEventListener("abort", finish);
      resolve(jobs.show(id));
    };
    const stop = jobs.watch(id, (changed) => {
      if (isJobEnded(changed)) finish();
    });
    const timer = setTimeout(finish, options.timeoutMs);
    options.signal.addEventListener("abort", finish);
  });
}

/** Takes the reply over and writes the job as events until it ends or the client goes. */
function streamJob(
  reply: FastifyReply,
  options: { jobs: JobService; id: string; signal: AbortSignal },
): void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stop();
    clearInterval(heartbeat);
    options.signal.removeEventListener("abort", end);
    raw.end();
  };
  const send = (job: JobInfo) => {
    if (ended) return;
    raw.write(`event: job\ndata: ${JSON.stringify(job)}\n\n`);
    if (isJobEnded(job)) end();
  };
  const stop = options.jobs.watch(options.id, send);
  const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), SSE_HEARTBEAT_MS);
  raw.on("close", end);
  options.signal.addEventListener("abort", end);
  send(options.jobs.show(options.id));
}
