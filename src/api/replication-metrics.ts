// The replication metrics: link traffic and round trips by path and link, and each pair's backlog
// and bytes sent. Like the store gauges they are read from the services on each scrape (the
// PathService's and PairService's `list()`), so they are never stale and cost nothing between.

import type { Registry } from "prom-client";
import type { PairService } from "../pprc/pair-service.js";
import type { PathService } from "../pprc/path-service.js";
import { counter, gauge, type Sample } from "./sampled-metrics.js";

/** What the replication metrics read; either may be absent (an API without replication). */
export interface ReplicationSources {
  readonly paths?: Pick<PathService, "list">;
  readonly pairs?: Pick<PairService, "list">;
}

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

interface LinkSample {
  /** The path as operators write it: `SSID>SERIAL.SSID`. */
  readonly path: string;
  readonly address: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly rttMs?: number;
}

function linkSamples(paths: Pick<PathService, "list"> | undefined): LinkSample[] {
  return (paths?.list() ?? []).flatMap((path) =>
    path.links.map((link) => ({
      ...link,
      path: `${path.ssid}>${path.remoteSerial}.${path.remoteSsid}`,
    })),
  );
}
