// The names of a store's objects below its prefix (docs/object-store.md): one object per sealed
// segment, and the claim that says which store the prefix belongs to. Pure logic.

/** The object that names the store whose chunks are under this prefix. */
export const CLAIM_KEY = "gsnap-store.json";

export const SEGMENTS_PREFIX = "segments/";

const SEGMENT_KEY = /^segments\/(\d{8,})\.seg$/;

export function segmentKey(segment: number): string {
  return `${SEGMENTS_PREFIX}${String(segment).padStart(8, "0")}.seg`;
}

/** The segment an object holds, or undefined for a key that is not a segment's. */
export function segmentOfKey(key: string): number | undefined {
  const match = SEGMENT_KEY.exec(key);
  return match === null ? undefined : Number(match[1]);
}
