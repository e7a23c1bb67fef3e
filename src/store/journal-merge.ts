// Merging journal entries into chunks: a claim of the journal's oldest entries becomes, for each
// track they touch, a new chunk holding the track's bytes with the entries applied. The images are
// built and appended to the chunk device before the change (prepareMerge); the change maps them
// and records in the catalog that every entry up to the claim's end is merged (commitMerge).

import { chunkChecksum } from "./checksum.js";
import type { Journal } from "./journal.js";
import type { JournalEntry, MergeClaim } from "./journal-index.js";
import { applyEntries, byTrack } from "./journal-overlay.js";
import { lookup } from "./mapping-tree.js";
import { readTrackImages, type StoreParts } from "./track-io.js";
import { commitTrackWrites, type PreparedTrackWrites, prepareTrackWrites } from "./track-writes.js";
import { incarnationOf, treeOf } from "./volume-record.js";
import { isZeroImage } from "./zero-image.js";

/** Tracks of one volume with their merged images on their way to the device. */
interface MergedVolume {
  readonly volser: string;
  readonly incarnation: number;
  /** The chunk each track mapped when its image was read (aligned with prepared.tracks). */
  readonly base: Float64Array;
  readonly prepared: PreparedTrackWrites;
}

export interface PreparedMerge {
  readonly throughSeq: number;
  readonly volumes: readonly MergedVolume[];
  /** Settles when every merged image is on the device. */
  readonly written: Promise<void>;
}

/**
 * Reads the tracks the claim touches, applies its entries and starts appending the images. Run it
 * once every change asked for before the claim has settled, so that what it reads is current.
 * The images are built in `slab(bytes)`, a buffer the caller keeps until the merge has settled
 * and then reuses, rather than one new buffer per track for the collector to find.
 */
export async function prepareMerge(
  parts: StoreParts,
  journal: Journal,
  claim: MergeClaim,
  slab: (bytes: number) => Buffer,
): Promise<PreparedMerge> {
  const byVolume = new Map<string, JournalEntry[]>();
  for (const entry of claim.entries) {
    const list = byVolume.get(entry.volser);
    if (list === undefined) byVolume.set(entry.volser, [entry]);
    else list.push(entry);
  }
  const loads = [...byVolume].flatMap(([volser, entries]) => {
    const volume = parts.catalog.getVolume(volser);
    const live = entries.filter((entry) => entry.incarnation === incarnationOf(volume));
    if (volume === undefined || live.length === 0) return [];
    const loaded = byTrack(
      live.map((entry) => ({
        entry,
        data: entry.kind === "write" ? journal.readData(entry) : undefined,
      })),
    );
    const tracks = [...loaded.keys()].sort((a, b) => a - b);
    const incarnation = incarnationOf(volume);
    return [{ volser, incarnation, loaded, tracks, size: volume.geometry.trackSizeBytes }];
  });
  const images = slab(loads.reduce((sum, load) => sum + load.tracks.length * load.size, 0));
  let used = 0;
  const volumes: MergedVolume[] = [];
  for (const { volser, incarnation, loaded, tracks, size } of loads) {
    // Looked up again after the reads of the volumes before: its tree may have changed since.
    const volume = parts.catalog.getVolume(volser);
    if (volume === undefined || incarnationOf(volume) !== incarnation) continue;
    const read = await readTrackImages(
      parts,
      volume,
      tracks,
      images.subarray(used, used + tracks.length * size),
    );
    used += tracks.length * size;
    const base = new Float64Array(tracks.length);
    const runs = tracks.map((track, i) => {
      const { chunkId, image } = read.get(track) as { chunkId: number; image: Buffer };
      base[i] = chunkId;
      applyEntries(image, track * size, size, loaded.get(track) ?? []);
      const data = isZeroImage(image) ? undefined : image;
      return { firstTrack: track, tracks: [{ data, checksum: data ? chunkChecksum(data) : 0n }] };
    });
    const prepared = prepareTrackWrites(parts, volume, runs);
    volumes.push({ volser, incarnation, base, prepared });
  }
  const written = Promise.all(volumes.map((volume) => volume.prepared.written)).then(() => {});
  return { throughSeq: claim.throughSeq, volumes, written };
}

/**
 * The change of a merge: maps the merged images and records the claim as merged. No change may
 * remap a track with journal entries (store.ts journals the writes to such tracks and merges
 * before the others), so each track still maps the chunk its image was read from; if one does
 * not, the merge fails and its entries stay in the journal for the next.
 */
export function commitMerge(parts: StoreParts, merge: PreparedMerge): void {
  for (const merged of merge.volumes) {
    const volume = parts.catalog.getVolume(merged.volser);
    // A volume deleted since (and maybe created anew) takes none of its old entries.
    if (volume === undefined || incarnationOf(volume) !== merged.incarnation) continue;
    merged.prepared.tracks.forEach((track, i) => {
      const [now] = lookup(parts.catalog, treeOf(volume), { firstTrack: track, count: 1 });
      if (now !== merged.base[i]) {
        throw new Error(
          `Cannot merge the journal into track ${track} of volume "${merged.volser}": ` +
            "another change remapped it since it was read",
        );
      }
    });
    commitTrackWrites(parts, volume, merged.prepared);
  }
  parts.catalog.setJournalMergedThrough(merge.throughSeq);
}
