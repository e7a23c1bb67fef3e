// The API marks a GSC job's own volumes and pairs as the job's (issue 17): the allocated P' on
// the source and S' on the target, and the pair between them on both sides, while the job runs;
// and shows its pair's and its own progress against the tracks it sends. Two real storage
// systems in this process (gsc-systems.ts), each with its API over its own store, pairs and jobs.

import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { gscSystems, S } from "../testing/gsc-systems.js";
import { PRIMARY_SERIAL, SECONDARY_SERIAL, type TestSystem } from "../testing/pair-systems.js";
import { buildApi } from "./build-api.js";

const TOKEN = "marks-test-token";
const apps: FastifyInstance[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

/** The API of one test system, called in process. */
async function apiOf(system: TestSystem, ssid: string) {
  const app = await buildApi({
    store: system.store,
    system: { serial: system.serial, ssids: [ssid], version: "test" },
    token: TOKEN,
    paths: system.paths,
    pairs: system.pairs,
    jobs: system.jobs,
  });
  apps.push(app);
  return async (method: "GET" | "POST", url: string, payload?: object) => {
    const reply = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${TOKEN}` },
      ...(payload === undefined ? {} : { payload }),
    });
    expect(reply.statusCode, reply.body).toBeLessThan(300);
    return reply.json();
  };
}

describe("a GSC job's intermediates and pair in the API", () => {
  it("are marked as the job's on both systems while it runs, and are gone with the marks after", async () => {
    // Stopped before 512: the copy is done, the pair and both intermediates are still there.
    const both = await gscSystems({ pauseAt: { step: 512 } });
    const { primary, secondary } = both;
    const source = await apiOf(primary, "01A0");
    const target = await apiOf(secondary, "01B0");
    const { id } = await source("POST", "/v1/gsc", {
      source: "VOL001:0.0-9.14",
      intermediate: "*",
      target: `${S}.VOL900:10.0-19.14`,
      targetIntermediate: "*",
    });
    for (let i = 0; i < 500 && primary.jobs.show(id).step !== 512; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(primary.jobs.show(id).step).toBe(512);
    const job = { id, serial: PRIMARY_SERIAL };

    // The source: P' is the job's, VOL001 is nobody's.
    const sourceVolumes = await source("GET", "/v1/volumes");
    const pPrime = sourceVolumes.find((v: { volser: string }) => v.volser.startsWith("#P"));
    expect(pPrime).toMatchObject({ job });
    expect(sourceVolumes.find((v: { volser: string }) => v.volser === "VOL001")).not.toHaveProperty(
      "job",
    );
    expect(await source("GET", `/v1/volumes/${encodeURIComponent(pPrime.volser)}`)).toMatchObject({
      job,
    });
    // Its pair: the job's, and its progress counts the 150 tracks sent of P' 's 300.
    const [sourcePair] = await source("GET", "/v1/pairs");
    expect(sourcePair).toMatchObject({
      volser: pPrime.volser,
      role: "primary",
      job,
      tracksTotal: 300,
      tracksToCopy: 150,
      tracksOutOfSync: 0,
    });
    expect(await source("GET", `/v1/pairs/${encodeURIComponent(pPrime.volser)}`)).toMatchObject({
      job,
    });
    // The job's own progress: 150 of 150 sent.
    expect((await source("GET", `/v1/jobs/${id}`)).progress).toMatchObject({
      tracksTotal: 150,
      tracksDone: 150,
      tracksToSend: 150,
      tracksSent: 150,
    });

    // The target: S' is the source system's job's, VOL900 is nobody's; so is the pair there.
    const targetVolumes = await target("GET", "/v1/volumes");
    const sPrime = targetVolumes.find((v: { volser: string }) => v.volser.startsWith("#T"));
    expect(sPrime).toMatchObject({ job });
    expect(targetVolumes.find((v: { volser: string }) => v.volser === "VOL900")).not.toHaveProperty(
      "job",
    );
    expect(await target("GET", `/v1/volumes/${encodeURIComponent(sPrime.volser)}`)).toMatchObject({
      job,
    });
    expect(await target("GET", "/v1/pairs")).toEqual([
      expect.objectContaining({
        volser: sPrime.volser,
        role: "secondary",
        primary: `${PRIMARY_SERIAL}.01A0.${pPrime.volser}`,
        secondary: `${SECONDARY_SERIAL}.01B0.${sPrime.volser}`,
        job,
        tracksOutOfSync: null,
        tracksToCopy: null,
      }),
    ]);

    // The job ends (cancelled here): its clean-up deletes both intermediates, marks and all.
    await source("POST", `/v1/jobs/${id}/cancel`);
    const ended = await primary.jobs.wait(id);
    expect(ended.state).toBe("cancelled");
    for (const [api, ssid] of [
      [source, "01A0"],
      [target, "01B0"],
    ] as const) {
      expect(await api("GET", "/v1/pairs"), ssid).toEqual([]);
      const volumes = await api("GET", "/v1/volumes");
      expect(volumes.filter((v: { job?: unknown }) => v.job !== undefined)).toEqual([]);
    }
  });

  it("marks a pair the operator made as no job's", async () => {
    const both = await gscSystems();
    const source = await apiOf(both.primary, "01A0");
    await both.primary.pairs.establish({
      volser: "VOL001",
      secondary: `${S}.VOL900`,
      mode: "copy",
    });
    const [pair] = await source("GET", "/v1/pairs");
    expect(pair.volser).toBe("VOL001");
    expect(pair).not.toHaveProperty("job");
    expect(pair.tracksToCopy).toBe(300);
    await both.primary.pairs.terminate("VOL001");
  });
});
