// The state of a path, worked out from the states of its links, and the reason a link gives when
// it is not up. Pure logic: the I/O shell (PathLink) reports what happened, this names it.
//
// A link is `established` (authenticated and answering PINGs) or `failed` (with a reason).
// A path is:
//   established  every link is established;
//   degraded     some links are established, some failed;
//   failed       no link is established.
// A link moves failed -> established when a connection is authenticated and reaches the remote
// SSID, and established -> failed when the connection closes or stops answering PINGs.

export type LinkState = "established" | "failed";
export type PathState = "established" | "degraded" | "failed";

/** Why a link is failed, in words an operator reads. */
export type LinkReason =
  | "connecting"
  | "refused"
  | "timed out"
  | "unreachable"
  | "unknown host"
  | "authentication failed"
  | "wrong serial"
  | "version"
  | "protocol"
  | "unknown SSID"
  | "down"
  | "no link secret";

export interface LinkStatus {
  readonly address: string;
  readonly state: LinkState;
  /** Set when the link is failed. */
  readonly reason?: LinkReason;
  /** When the link entered this state (ISO 8601); a new reason keeps it. */
  readonly since: string;
  /** The last PING's round trip in milliseconds; absent until a PONG came back. */
  readonly rttMs?: number;
  /** Bytes this link has sent and received on all its connections since the system started. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export interface PathInfo {
  readonly ssid: string;
  readonly remoteSerial: string;
  readonly remoteSsid: string;
  readonly state: PathState;
  readonly links: readonly LinkStatus[];
}

/** The path's state from its links' states. A path has at least one link. */
export function pathState(links: readonly { readonly state: LinkState }[]): PathState {
  const up = links.filter((link) => link.state === "established").length;
  if (up === links.length && up > 0) return "established";
  return up === 0 ? "failed" : "degraded";
}

/** Socket error codes (a LINK_DOWN error's cause) and the reasons they mean. */
const SOCKET_REASONS: Record<string, LinkReason> = {
  ECONNREFUSED: "refused",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host",
};

/** gsnap link error codes and the reasons they mean. */
const CODE_REASONS: Record<string, LinkReason> = {
  LINK_AUTH_FAILED: "authentication failed",
  LINK_WRONG_SERIAL: "wrong serial",
  LINK_VERSION: "version",
  LINK_PROTOCOL: "protocol",
  LINK_DOWN: "down",
};

/** The reason for a failed connection attempt, from the error connectLink threw. */
export function linkReason(error: unknown): LinkReason {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  const socketCode = typeof cause?.code === "string" ? cause.code : undefined;
  if (socketCode !== undefined && socketCode in SOCKET_REASONS) return SOCKET_REASONS[socketCode];
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && code in CODE_REASONS) return CODE_REASONS[code];
  if (typeof code === "string" && code in SOCKET_REASONS) return SOCKET_REASONS[code];
  return "down";
}

/** The wait before reconnect attempt `failures` (1 after the first failure): doubling, capped. */
export function backoffMs(options: { failures: number; minMs: number; maxMs: number }): number {
  const exponent = Math.max(0, options.failures - 1);
  // 2 ** 30 already passes any sane cap; stopping there keeps the arithmetic finite.
  return Math.min(options.maxMs, options.minMs * 2 ** Math.min(exponent, 30));
}
