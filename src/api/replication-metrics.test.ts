import { afterEach, describe, expect, it } from "vitest";
import { startApi, stopApis } from "../testing/api-harness.js";
import { examplePair } from "../testing/memory-pairs.js";

afterEach(stopApis);

const LINK = 'path="01A0>GS0002.01B0",link="127.0.0.1:8481"';

describe("GET /metrics of replication", () => {
  it("shows each link's traffic and round trip, read from the paths at scrape time", async () => {
    const api = await startApi();
    const path = { ssid: "01A0", to: "GS0002.01B0" };
    const link = {
      address: "127.0.0.1:8481",
      state: "established",
      since: "2026-01-01T00:00:00Z",
    } as const;
    api.paths.setLink(path, { ...link, bytesSent: 4096, bytesReceived: 512 });
    const first = (await api.call("GET", "/metrics")).text;
    expect(first).toMatch(new RegExp(`^gsnap_link_sent_bytes_total\\{${LINK}\\} 4096$`, "m"));
    expect(first).toMatch(new RegExp(`^gsnap_link_received_bytes_total\\{${LINK}\\} 512$`, "m"));
    expect(first).not.toMatch(/^gsnap_link_rtt_seconds\{/m);
    api.paths.setLink(path, { ...link, bytesSent: 8192, bytesReceived: 1024, rttMs: 2.5 });
    const second = (await api.call("GET", "/metrics")).text;
    expect(second).toMatch(new RegExp(`^gsnap_link_sent_bytes_total\\{${LINK}\\} 8192$`, "m"));
    expect(second).toMatch(new RegExp(`^gsnap_link_rtt_seconds\\{${LINK}\\} 0.0025$`, "m"));
  });

  it("shows each pair's backlog (not a secondary's unknown one) and bytes sent", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001", { tracksOutOfSync: 42, bytesSent: 1_000 }));
    api.pairs.setPair(examplePair("VOL002", { role: "secondary", tracksOutOfSync: null }));
    const text = (await api.call("GET", "/metrics")).text;
    expect(text).toMatch(/^gsnap_pair_tracks_out_of_sync\{volser="VOL001",role="primary"\} 42$/m);
    expect(text).not.toMatch(/^gsnap_pair_tracks_out_of_sync\{volser="VOL002"/m);
    expect(text).toMatch(/^gsnap_pair_sent_bytes_total\{volser="VOL001"\} 1000$/m);
    expect(text).toMatch(/^gsnap_pair_sent_bytes_total\{volser="VOL002"\} 8601600$/m);
  });

  it("shows each link up or not and each path's state, one series per state", async () => {
    const api = await startApi();
    const path = { ssid: "01A0", to: "GS0002.01B0" };
    const up = (await api.call("GET", "/metrics")).text;
    expect(up).toMatch(new RegExp(`^gsnap_link_up\\{${LINK}\\} 1$`, "m"));
    expect(up).toMatch(/^gsnap_path_state\{path="01A0>GS0002.01B0",state="established"\} 1$/m);
    expect(up).toMatch(/^gsnap_path_state\{path="01A0>GS0002.01B0",state="degraded"\} 0$/m);
    expect(up).toMatch(/^gsnap_path_state\{path="01A0>GS0002.01B0",state="failed"\} 0$/m);
    api.paths.setLink(path, {
      address: "127.0.0.1:8481",
      state: "failed",
      reason: "refused",
      since: "2026-01-01T00:00:00Z",
      bytesSent: 0,
      bytesReceived: 0,
    });
    const down = (await api.call("GET", "/metrics")).text;
    expect(down).toMatch(new RegExp(`^gsnap_link_up\\{${LINK}\\} 0$`, "m"));
    expect(down).toMatch(/^gsnap_path_state\{path="01A0>GS0002.01B0",state="established"\} 0$/m);
    expect(down).toMatch(/^gsnap_path_state\{path="01A0>GS0002.01B0",state="failed"\} 1$/m);
  });

  it("shows each pair's state, one series per state, and a suspended pair's reason", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001"));
    api.pairs.setPair(
      examplePair("VOL002", { role: "secondary", state: "suspended", reason: "link failure" }),
    );
    const text = (await api.call("GET", "/metrics")).text;
    const state = (volser: string, role: string, value: string) =>
      new RegExp(
        `^gsnap_pair_state\\{volser="${volser}",role="${role}",state="${value}"\\} 1$`,
        "m",
      );
    expect(text).toMatch(state("VOL001", "primary", "duplex"));
    expect(text).toMatch(
      /^gsnap_pair_state\{volser="VOL001",role="primary",state="suspended"\} 0$/m,
    );
    expect(text).toMatch(/^gsnap_pair_state\{volser="VOL001",role="primary",state="pending"\} 0$/m);
    expect(text).toMatch(state("VOL002", "secondary", "suspended"));
    expect(text.match(/^gsnap_pair_state\{.*\} 1$/gm)).toHaveLength(2);
    expect(text).toMatch(
      /^gsnap_pair_suspended\{volser="VOL002",role="secondary",reason="link failure"\} 1$/m,
    );
    expect(text).not.toMatch(/^gsnap_pair_suspended\{volser="VOL001"/m);
  });

  it("drops a terminated pair's and a removed path's series", async () => {
    const api = await startApi();
    api.pairs.setPair(examplePair("VOL001"));
    expect((await api.call("GET", "/metrics")).text).toMatch(/^gsnap_pair_\w+\{volser="VOL001"/m);
    await api.pairs.terminate("VOL001");
    await api.paths.remove({ ssid: "01A0", to: "GS0002.01B0" });
    const text = (await api.call("GET", "/metrics")).text;
    expect(text).not.toMatch(/^gsnap_pair_\w+\{volser="VOL001"/m);
    expect(text).not.toMatch(/path="01A0>GS0002.01B0"/);
    expect(text).toMatch(/^# TYPE gsnap_pair_sent_bytes_total counter$/m);
  });

  it("shows no replication series when the API has no replication", async () => {
    const api = await startApi({ withoutPaths: true });
    const text = (await api.call("GET", "/metrics")).text;
    expect(text).not.toMatch(/^gsnap_(link|pair)_\w+\{/m);
  });
});
