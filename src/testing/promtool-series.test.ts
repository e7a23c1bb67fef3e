import { describe, expect, it } from "vitest";
import { parseExposition, parseLabels } from "./prometheus-text.js";
import { inputSeries } from "./promtool-series.js";

const TEXT = `# HELP gsnap_volumes Volumes defined on this storage system
# TYPE gsnap_volumes gauge
gsnap_volumes 2
gsnap_link_up{path="01A0>0000000002.01B0",link="127.0.0.1:8481"} 1
gsnap_nbd_request_seconds_bucket{le="+Inf",op="read"} 3
gsnap_link_rtt_seconds{path="x",link="y"} 0.0025
process_cpu_user_seconds_total 0.5
`;

describe("scrapes as promtool input", () => {
  it("reads every sample of the exposition format, labels as written", () => {
    expect(parseExposition(TEXT)).toEqual([
      { name: "gsnap_volumes", labels: "", value: 2 },
      {
        name: "gsnap_link_up",
        labels: 'path="01A0>0000000002.01B0",link="127.0.0.1:8481"',
        value: 1,
      },
      { name: "gsnap_nbd_request_seconds_bucket", labels: 'le="+Inf",op="read"', value: 3 },
      { name: "gsnap_link_rtt_seconds", labels: 'path="x",link="y"', value: 0.0025 },
      { name: "process_cpu_user_seconds_total", labels: "", value: 0.5 },
    ]);
  });

  it("reads labels by name with their escapes undone", () => {
    expect(parseLabels('path="01A0>0000000002.01B0",dir="/a\\"b\\\\c"')).toEqual({
      path: "01A0>0000000002.01B0",
      dir: '/a"b\\c',
    });
  });

  it("repeats each scrape over its phase, marks a series that leaves stale, and sets up", () => {
    const healthy = parseExposition('gsnap_volumes 2\ngsnap_pair_suspended{volser="V1"} 1\n');
    const later = parseExposition("gsnap_volumes 3\n");
    const series = inputSeries(
      [
        { minutes: 3, scrapes: new Map([["a:1", healthy]]) },
        { minutes: 2, scrapes: new Map([["a:1", later]]) },
        { minutes: 4, scrapes: new Map([["a:1", "down" as const]]) },
      ],
      { job: "gsnap", keep: (name) => name.startsWith("gsnap_") },
    );
    expect(series).toEqual([
      { series: 'up{job="gsnap",instance="a:1"}', values: "1+0x2 1+0x1 0+0x3" },
      { series: 'gsnap_volumes{job="gsnap",instance="a:1"}', values: "2+0x2 3+0x1 stale _x3" },
      {
        series: 'gsnap_pair_suspended{job="gsnap",instance="a:1",volser="V1"}',
        values: "1+0x2 stale _x1 _x4",
      },
    ]);
  });
});
