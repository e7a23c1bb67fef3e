// `gsnap volume list|show` in process against a real API over HTTP: a GSC job's intermediate is
// marked as the job's (issue 17), every other volume is not.

import { afterEach, describe, expect, it } from "vitest";
import { runGsnap, startApi, stopApis } from "../testing/api-harness.js";

afterEach(stopApis);

describe("gsnap volume", () => {
  it("lists a GSC job's intermediate with the job that runs it, and other volumes with none", async () => {
    const api = await startApi();
    // As the job's runner (P') and a target's RESERVE (S', of another system's job) create them.
    const job = { id: "J000042", serial: "GS0001" };
    await api.store.createVolume({ volser: "#PUXY9", ssid: "01A0", cylinders: 10_017, job });
    await api.store.createVolume({
      volser: "#T0B1Q",
      ssid: "01A0",
      cylinders: 10,
      job: { id: "J000007", serial: "GS0002" },
    });
    const result = await runGsnap(api, "volume", "list");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^VOLSER\s+SSID\s+.+\s+READ-ONLY\s+INTERMEDIATE OF\s+INCONSISTENT$/m,
    );
    expect(result.stdout).toMatch(
      /^#PUXY9\s+01A0\s+3390-A\s+10,017\s+150,255\s+.+\s+no\s+J000042 on GS0001\s+-$/m,
    );
    expect(result.stdout).toMatch(/^#T0B1Q\s+.+\s+no\s+J000007 on GS0002\s+-$/m);
    expect(result.stdout).toMatch(/^VOL001\s+.+\s+no\s+-\s+-$/m);
    const json = JSON.parse((await runGsnap(api, "volume", "list", "--json")).stdout);
    expect(json.find((volume: { volser: string }) => volume.volser === "#PUXY9").job).toEqual(job);
    expect(
      json.find((volume: { volser: string }) => volume.volser === "VOL001"),
    ).not.toHaveProperty("job");
  });

  it("shows whose intermediate a volume is, and says nothing of a job for other volumes", async () => {
    const api = await startApi();
    const job = { id: "J000042", serial: "GS0001" };
    await api.store.createVolume({ volser: "#PUXY9", ssid: "01A0", cylinders: 10, job });
    const shown = await runGsnap(api, "volume", "show", "#PUXY9");
    expect(shown.stdout).toMatch(
      /^job:\s+intermediate of GSC job J000042 on GS0001, which deletes it when it ends$/m,
    );
    expect(
      JSON.parse((await runGsnap(api, "volume", "show", "#PUXY9", "--json")).stdout).job,
    ).toEqual(job);
    expect((await runGsnap(api, "volume", "show", "VOL001")).stdout).not.toMatch(/^job:/m);
  });
});
