// The storage system view: identity, where chunks are kept, subsystems, capacity and host I/O
// rates. Capacity is what the volumes provision and what of it is allocated (thin volumes use
// space only where written), and what the store's segment files hold. I/O rates come from the
// Prometheus counters, sampled every RATE_INTERVAL_MS while the view is shown.

import { apiGet } from "./api-client.js";
import { el, facts, formatBytes, formatCount, formatPercent, shareBar, table } from "./dom.js";

/** Often enough to follow a copy as it runs, rarely enough that scraping costs nothing. */
const RATE_INTERVAL_MS = 5_000;

const METRIC_LINE = /^(gsnap_nbd_(?:requests|bytes)_total)\{([^}]*)\} ([0-9.eE+-]+)$/;

/** Sums the NBD counters by operation: { read: { requests, bytes }, write: ... }. */
export function nbdTotals(text) {
  const totals = {};
  for (const line of text.split("\n")) {
    const match = METRIC_LINE.exec(line);
    if (match === null) continue;
    const op = /op="([^"]*)"/.exec(match[2])?.[1] ?? "other";
    totals[op] ??= { requests: 0, bytes: 0 };
    const field = match[1] === "gsnap_nbd_bytes_total" ? "bytes" : "requests";
    totals[op][field] += Number(match[3]);
  }
  return totals;
}

/**
 * Where the system keeps its chunks, as [term, description] pairs: local segment files, or an S3
 * bucket with what is staged locally and not yet uploaded, and the read cache.
 */
export function chunkFacts(chunks) {
  if (chunks.kind !== "s3") return [["Chunks", "local segment files"]];
  const where = chunks.endpoint === undefined ? chunks.url : `${chunks.url} at ${chunks.endpoint}`;
  const segments = chunks.stagedSegments === 1 ? "segment" : "segments";
  return [
    ["Chunks", where],
    [
      "Staged (not yet uploaded)",
      `${formatCount(chunks.stagedSegments)} ${segments}, ${formatBytes(chunks.stagedBytes)}`,
    ],
    ["Read cache", formatBytes(chunks.cacheBytes)],
  ];
}

function capacityFacts(stats) {
  const provisioned = stats.volumes.reduce((sum, volume) => sum + volume.sizeBytes, 0);
  const allocated = stats.volumes.reduce((sum, volume) => sum + volume.allocatedBytes, 0);
  const { segmentBytes, liveBytes } = stats.store;
  return facts([
    ["Provisioned", `${formatBytes(provisioned)} in ${formatCount(stats.volumes.length)} volumes`],
    [
      "Allocated (used)",
      shareBar(
        allocated,
        provisioned,
        `${formatBytes(allocated)}, ${formatPercent(allocated, provisioned)} of provisioned`,
      ),
    ],
    ["Unallocated (free)", `${formatBytes(provisioned - allocated)}`],
    ["Segments (chunk records)", formatBytes(segmentBytes)],
    [
      "Live in segments",
      shareBar(
        liveBytes,
        segmentBytes,
        `${formatBytes(liveBytes)}, ${formatPercent(liveBytes, segmentBytes)} of segments`,
      ),
    ],
    ["Reclaimable", `${formatBytes(segmentBytes - liveBytes)} (the collector takes it back)`],
  ]);
}

function ratesTable(previous, current, seconds) {
  const ops = ["read", "write", "flush", "trim", "write_zeroes", "block_status"].filter(
    (op) => op in current || op === "read" || op === "write",
  );
  const rows = ops.map((op) => {
    const now = current[op] ?? { requests: 0, bytes: 0 };
    if (previous === undefined) return [op, "measuring", "measuring"];
    const before = previous[op] ?? { requests: 0, bytes: 0 };
    const requests = Math.max(0, now.requests - before.requests) / seconds;
    const bytes = Math.max(0, now.bytes - before.bytes) / seconds;
    // MB/s (10^6 B/s), like every rate the dashboard and the CLI show.
    return [op, `${requests.toFixed(1)} /s`, `${(bytes / 1e6).toFixed(1)} MB/s`];
  });
  return table("Host I/O over NBD", ["Operation", "Requests", "Bytes"], rows);
}

/** Draws the view into `view`; returns a function that stops its refreshing. */
export async function systemView(view) {
  const [system, subsystems, stats, metrics] = await Promise.all([
    apiGet("/v1/system"),
    apiGet("/v1/subsystems"),
    apiGet("/v1/stats"),
    apiGet("/metrics"),
  ]);
  const rates = el("div", { class: "rates" }, ratesTable(undefined, nbdTotals(metrics), 1));
  const note = el("p", {
    class: "hint",
    text: `Rates are averaged over ${RATE_INTERVAL_MS / 1000} s and appear after the first interval.`,
  });
  view.replaceChildren(
    el("h1", { text: `Storage system ${system.serial}` }),
    facts([
      ["Serial", system.serial],
      ["Version", system.version],
      ["Volumes", formatCount(system.volumes)],
      ...chunkFacts(system.chunks),
    ]),
    el("h2", { text: "Subsystems" }),
    table(
      "Subsystems (SSIDs) and their volumes",
      ["SSID", "Volumes"],
      subsystems.map((subsystem) => [subsystem.ssid, formatCount(subsystem.volumes)]),
    ),
    el("h2", { text: "Capacity" }),
    capacityFacts(stats),
    el("h2", { text: "I/O rates" }),
    rates,
    note,
  );
  let previous = nbdTotals(metrics);
  let previousAt = performance.now();
  const timer = setInterval(async () => {
    try {
      const current = nbdTotals(await apiGet("/metrics"));
      const now = performance.now();
      rates.replaceChildren(ratesTable(previous, current, (now - previousAt) / 1000));
      previous = current;
      previousAt = now;
    } catch {
      // A failed sample leaves the last rates shown; the next view change reports errors.
    }
  }, RATE_INTERVAL_MS);
  return () => clearInterval(timer);
}
