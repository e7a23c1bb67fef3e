// The volumes view: a table of every volume with its geometry, allocated share and pair role
// (primary, secondary or none, from /v1/pairs), a GSC job's intermediates marked as the job's,
// and for the selected volume (#/volumes/VOLSER) a picture of which cylinders hold data. The picture's cells are shades of grey (readable without
// colour) and the same facts are listed as text beside it.

import { ApiError, apiGet } from "./api-client.js";
import { el, formatBytes, formatCount, formatPercent, shareBar, svg, table } from "./dom.js";
import { jobMark } from "./job-mark.js";

/** 32 cells to a row keep a full picture of 512 buckets at 16 rows, legible on a phone. */
const MAX_COLUMNS = 32;
const CELL = 14;
const GAP = 2;

/** Past this many ranges, the text list starts folded, so that the page stays short. */
const OPEN_RANGES = 24;

/** The shade of a cell: its level, from empty to full, with the word the legend uses. */
const LEVELS = [
  { name: "empty", test: (share) => share === 0 },
  { name: "under half", test: (share) => share < 0.5 },
  { name: "half or more", test: (share) => share < 1 },
  { name: "full", test: () => true },
];

function levelOf(bucket) {
  const share = bucket.mappedTracks / bucket.trackCount;
  return LEVELS.findIndex((level) => level.test(share));
}

function cylinderRange(first, count) {
  return count === 1 ? `cylinder ${first}` : `cylinders ${first}-${first + count - 1}`;
}

function describeRange(range) {
  const share = formatPercent(range.mappedTracks, range.trackCount);
  return (
    `${cylinderRange(range.firstCylinder, range.cylinderCount)}: ${share} mapped ` +
    `(${formatCount(range.mappedTracks)} of ${formatCount(range.trackCount)} tracks)`
  );
}

/** Joins neighbouring buckets whose shares read the same, for a short text alternative. */
export function textRanges(buckets) {
  const ranges = [];
  for (const bucket of buckets) {
    const last = ranges.at(-1);
    const same =
      last !== undefined &&
      formatPercent(last.mappedTracks, last.trackCount) ===
        formatPercent(bucket.mappedTracks, bucket.trackCount);
    if (same) {
      last.cylinderCount += bucket.cylinderCount;
      last.trackCount += bucket.trackCount;
      last.mappedTracks += bucket.mappedTracks;
    } else {
      ranges.push({ ...bucket });
    }
  }
  return ranges;
}

function picture(allocation) {
  const { buckets } = allocation;
  const columns = Math.min(MAX_COLUMNS, buckets.length);
  const rows = Math.ceil(buckets.length / columns);
  const width = columns * (CELL + GAP) - GAP;
  const height = rows * (CELL + GAP) - GAP;
  const cells = buckets.map((bucket, i) =>
    svg(
      "rect",
      {
        class: `cell level-${levelOf(bucket)}`,
        x: (i % columns) * (CELL + GAP),
        y: Math.floor(i / columns) * (CELL + GAP),
        width: CELL,
        height: CELL,
      },
      svg("title", { text: describeRange(bucket) }),
    ),
  );
  return svg(
    "svg",
    {
      class: "cylinders",
      viewBox: `-1 -1 ${width + 2} ${height + 2}`,
      width: width + 2,
      role: "img",
      "aria-label": `Cylinders of ${allocation.volser} holding data; the list below says the same`,
    },
    ...cells,
  );
}

function legend() {
  return el(
    "ul",
    { class: "legend" },
    ...LEVELS.map((level, i) =>
      el(
        "li",
        {},
        svg(
          "svg",
          { viewBox: "-1 -1 16 16", width: 16, height: 16, "aria-hidden": "true" },
          svg("rect", { class: `cell level-${i}`, width: CELL, height: CELL }),
        ),
        ` ${level.name}`,
      ),
    ),
  );
}

async function detail(volser) {
  const allocation = await apiGet(`/v1/volumes/${encodeURIComponent(volser)}/allocation`);
  const ranges = textRanges(allocation.buckets);
  const perCell = allocation.buckets[0].cylinderCount;
  const list = el(
    "ul",
    { class: "ranges" },
    ...ranges.map((range) => el("li", { text: describeRange(range) })),
  );
  return el(
    "section",
    { class: "detail", "aria-labelledby": "detail-title" },
    el("h2", { id: "detail-title", text: `Cylinders of ${allocation.volser} holding data` }),
    el("p", {
      class: "hint",
      text:
        `${formatCount(allocation.cylinders)} cylinders of ${allocation.heads} tracks; ` +
        `each cell is ${perCell === 1 ? "one cylinder" : `${formatCount(perCell)} cylinders`}, ` +
        "from cylinder 0 at the top left, row by row.",
    }),
    picture(allocation),
    legend(),
    el(
      "details",
      { open: ranges.length <= OPEN_RANGES },
      el("summary", { text: `Cylinder ranges as text (${ranges.length})` }),
      list,
    ),
  );
}

/** The pairs by VOLSER; none when the API was built without replication (PATHS_UNAVAILABLE). */
async function pairsByVolser() {
  try {
    const pairs = await apiGet("/v1/pairs");
    return new Map(pairs.map((pair) => [pair.volser, pair]));
  } catch (error) {
    if (error instanceof ApiError && error.code === "PATHS_UNAVAILABLE") return new Map();
    throw error;
  }
}

/** Draws the view into `view`, with `selected` (a VOLSER, or undefined) shown in detail. */
export async function volumesView(view, selected) {
  const [volumes, stats, pairs, system] = await Promise.all([
    apiGet("/v1/volumes"),
    apiGet("/v1/stats"),
    pairsByVolser(),
    apiGet("/v1/system"),
  ]);
  const allocated = new Map(stats.volumes.map((volume) => [volume.volser, volume]));
  const rows = volumes.map((volume) => {
    const usage = allocated.get(volume.volser) ?? { allocatedTracks: 0 };
    const link = el("a", {
      href: `#/volumes/${encodeURIComponent(volume.volser)}`,
      text: volume.volser,
    });
    if (volume.volser === selected) link.setAttribute("aria-current", "true");
    const mark =
      volume.job === undefined
        ? ""
        : jobMark(volume.job, { serial: system.serial, words: "intermediate of job" });
    const warning =
      volume.inconsistent === undefined
        ? ""
        : el("span", {
            class: "inconsistent",
            title: `a copy from ${volume.inconsistent.pair} stopped before it completed, since ${volume.inconsistent.since}`,
            text: "inconsistent",
          });
    return [
      el(
        "span",
        { class: "volser" },
        link,
        mark === "" ? "" : " ",
        mark,
        warning === "" ? "" : " ",
        warning,
      ),
      volume.ssid,
      volume.model,
      formatCount(volume.cylinders),
      formatBytes(volume.sizeBytes),
      shareBar(
        usage.allocatedTracks,
        volume.trackCount,
        `${formatPercent(usage.allocatedTracks, volume.trackCount)} (${formatCount(usage.allocatedTracks)} tracks)`,
      ),
      pairs.get(volume.volser)?.role ?? "none",
    ];
  });
  const parts = [el("h1", { text: "Volumes" })];
  if (volumes.length === 0) {
    parts.push(
      el("p", {
        class: "empty",
        text: "No volumes yet: create one with gsnap volume create or POST /v1/volumes.",
      }),
    );
  } else {
    parts.push(
      table(
        `${volumes.length} volumes; choose a VOLSER to see which cylinders hold data`,
        ["VOLSER", "SSID", "Model", "Cylinders", "Size", "Allocated", "Pair role"],
        rows,
        { cards: true },
      ),
    );
  }
  if (selected !== undefined) parts.push(await detail(selected));
  view.replaceChildren(...parts);
}
