// Which secret proves a link with which peer. A storage system may share one secret with every
// peer (`--link-secret`), keep one secret per peer serial (`--link-peer SERIAL:FILE`), or both.
// Per-peer secrets are what make a peer's serial mean something: with one shared secret, any
// system that holds it can claim to be any other, and act on that system's pairs and jobs; with a
// secret per serial, a peer can prove only the serial whose secret it holds.
//
// The rule (docs/link-protocol.md, "Authentication"): a serial with an entry is proved with that
// entry's secret and never with the shared one; a serial without an entry is proved with the
// shared secret when there is one, and cannot connect when there is none. Pure: no I/O.

/** One secret for every peer, or a secret per peer serial (and optionally a shared fallback). */
export type LinkSecret = string | PeerSecrets;

export interface PeerSecrets {
  /** Secrets by peer serial. */
  readonly peers: ReadonlyMap<string, string>;
  /** The secret of every serial without an entry; absent: such a serial cannot connect. */
  readonly shared?: string;
}

/** The secret that proves a link with `peerSerial`, or undefined when none may. */
export function secretFor(secret: LinkSecret, peerSerial: string): string | undefined {
  if (typeof secret === "string") return secret;
  return secret.peers.get(peerSerial) ?? secret.shared;
}

/** Per-peer secrets and a shared one as one LinkSecret; undefined when there is neither. */
export function linkSecretOf(options: {
  shared?: string;
  peers?: ReadonlyMap<string, string>;
}): LinkSecret | undefined {
  const { shared, peers } = options;
  if (peers === undefined || peers.size === 0) return shared;
  return shared === undefined ? { peers } : { peers, shared };
}

/** How the log and error messages name what a serial needs, for an operator to act on. */
export function missingSecretHint(peerSerial: string): string {
  return `no link secret is configured for serial "${peerSerial}" (gsnap serve --link-peer ${peerSerial}:FILE)`;
}
