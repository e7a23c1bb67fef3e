// The replication metrics: link traffic and round trips by path and link, each link up or not,
// each path's and pair's state (a pair's suspension with its reason), and each pair's backlog and
// bytes sent. Like the store gauges they are read from the services on each scrape (the
// PathService's and PairService's `list()`), so they are never stale and cost nothing between.
//
// A state is a set of series, one per possible state, 1 for the current one and 0 for the others
// (OpenMetrics' StateSet): a series per state keeps its history across changes, so an alert's
// `for:` and a graph see a pair go from duplex to suspended as two series that change, not one
// series that ends and another that begins.

import type { Registry } from "prom-client";
import type { PairService, PairState } from "../pprc/pair-service.js";
import type { PathService } from "../pprc/path-service.js";
import type { PathInfo, PathState } from "../pprc/path-state.js";
import { counter, gauge, type Sample } from "./sampled-metrics.js";

/** What the replication metrics read; either may be absent (an API without replication). */
export interface ReplicationSources {
  readonly paths?: Pick<PathService, "list">;
  readonly pairs?: Pick<PairService, "list">;
}

/** Every state a pair reports; the Record makes the compiler name a state added to PairState. */
const PAIR_STATES = Object.keys({
  simplex: true,
  pending: true,
  duplex: true,
  suspended: true,
} satisfies Record<PairState, true>) as PairState[];

const PATH_STATES = Object.keys({
  established: true,
  degraded: true,
  failed: true,
} satisfies Record<PathState, true>) as PathState[];

/**
 * Registers the replication metrics in `registry`; `sources` is asked on each scrape, so that a
 * setter can give the services after the metrics exist.
 */
export function registerReplicationMetrics(
  registry: Registry,
  sources: () => ReplicationSources,
): void {
  const links = (read: (link: LinkSample) => number | undefined): Sample<"path" | "link">[] =>
    linkSamples(sources().paths).flatMap((link) => {
      const value = read(link);
      return value === undefined ? [] : [[{ path: link.path, link: link.address }, value]];
    });
  const pairs = () => sources().pairs?.list() ?? [];
  const paths = () => sources().paths?.list() ?? [];

  counter(registry, {
    name: "gsnap_link_sent_bytes_total",
    help: "Bytes a link has sent on all its connections since the system started",
    labelNames: ["path", "link"],
    samples: () => links((link) => link.bytesSent),
  });
  counter(registry, {
    name: "gsnap_link_received_bytes_total",
    help: "Bytes a link has received on all its connections since the system started",
    labelNames: ["path", "link"],
    samples: () => links((link) => link.bytesReceived),
  });
  gauge(registry, {
    name: "gsnap_link_rtt_seconds",
    help: "The round trip of a link's last PING; absent until a PONG came back",
    labelNames: ["path", "link"],
    samples: () => links((link) => (link.rttMs === undefined ? undefined : link.rttMs / 1000)),
  });
  gauge(registry, {
    name: "gsnap_link_up",
    help: "1 while a link of a path is established (authenticated, answering PINGs), 0 while failed",
    labelNames: ["path", "link"],
    samples: () => links((link) => (link.state === "established" ? 1 : 0)),
  });
  gauge(registry, {
    name: "gsnap_path_state",
    help: "1 for a path's current state (established, degraded: some links failed, failed: all), 0 for the others",
    labelNames: ["path", "state"],
    samples: () =>
      paths().flatMap((path) =>
        PATH_STATES.map(
          (state): Sample<"path" | "state"> => [
            { path: pathName(path), state },
            path.state === state ? 1 : 0,
          ],
        ),
      ),
  });
  gauge(registry, {
    name: "gsnap_pair_state",
    help: "1 for a pair's current state (pending, duplex, suspended, simplex), 0 for the others",
    labelNames: ["volser", "role", "state"],
    samples: () =>
      pairs().flatMap((pair) =>
        PAIR_STATES.map(
          (state): Sample<"volser" | "role" | "state"> => [
            { volser: pair.volser, role: pair.role, state },
            pair.state === state ? 1 : 0,
          ],
        ),
      ),
  });
  gauge(registry, {
    name: "gsnap_pair_suspended",
    help: "1 for each suspended pair, with the reason it gives (operator, link failure, secondary error, primary restart)",
    labelNames: ["volser", "role", "reason"],
    samples: () =>
      pairs().flatMap((pair): Sample<"volser" | "role" | "reason">[] =>
        pair.state === "suspended"
          ? [[{ volser: pair.volser, role: pair.role, reason: pair.reason ?? "unknown" }, 1]]
          : [],
      ),
  });
  gauge(registry, {
    name: "gsnap_pair_tracks_out_of_sync",
    help: "Tracks the secondary of a pair does not hold yet (reported by the primary only)",
    labelNames: ["volser", "role"],
    samples: () =>
      pairs().flatMap((pair): Sample<"volser" | "role">[] =>
        pair.tracksOutOfSync === null
          ? []
          : [[{ volser: pair.volser, role: pair.role }, pair.tracksOutOfSync]],
      ),
  });
  counter(registry, {
    name: "gsnap_pair_sent_bytes_total",
    help: "Bytes of track data a pair sent (primary) or stored (secondary) since it was established",
    labelNames: ["volser"],
    samples: () =>
      pairs().map((pair): Sample<"volser"> => [{ volser: pair.volser }, pair.bytesSent]),
  });
}

/** The path as operators write it: `SSID>SERIAL.SSID`. */
function pathName(path: PathInfo): string {
  return `${path.ssid}>${path.remoteSerial}.${path.remoteSsid}`;
}

interface LinkSample {
  /** The path as operators write it: `SSID>SERIAL.SSID`. */
  readonly path: string;
  readonly address: string;
  readonly state: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly rttMs?: number;
}

function linkSamples(paths: Pick<PathService, "list"> | undefined): LinkSample[] {
  return (paths?.list() ?? []).flatMap((path) =>
    path.links.map((link) => ({ ...link, path: pathName(path) })),
  );
}
