// Whether a track image holds only zeroes: such a track is stored unmapped and crosses the link as
// a zero record. One memcmp against a zero buffer of the same length, kept per length.

const zeroBuffers = new Map<number, Buffer>();

export function isZeroImage(image: Buffer): boolean {
  let zeros = zeroBuffers.get(image.length);
  if (zeros === undefined) {
    zeros = Buffer.alloc(image.length);
    zeroBuffers.set(image.length, zeros);
  }
  return image.equals(zeros);
}
