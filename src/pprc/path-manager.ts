// The paths of one storage system: the I/O shell that keeps them in paths.json, runs a PathLink
// per link, and answers the API. Paths are established, listed and removed here; each link
// connects and reconnects by itself.

import assert from "node:assert/strict";
import { GsnapError } from "../errors/gsnap-error.js";
import { checkSsid } from "../geometry/names.js";
import type { LinkTlsClientOptions } from "../link/connect-link.js";
import type { LinkConnection } from "../link/link-connection.js";
import type { LinkLogger } from "../link/link-logger.js";
import { type LinkSecret, secretFor } from "../link/link-secrets.js";
import { readPathFile, writePathFile } from "./path-file.js";
import { DEFAULT_PATH_TIMING, PathLink, type PathTiming } from "./path-link.js";
import type { PathService } from "./path-service.js";
import {
  checkEstablish,
  type EstablishRequest,
  type PathSpec,
  parseRemote,
  pathKey,
} from "./path-spec.js";
import { type PathInfo, pathState } from "./path-state.js";

export interface PathManagerOptions {
  readonly dataDir: string;
  readonly serial: string;
  readonly ssids: readonly string[];
  /**
   * The link secret, shared or per peer serial; a path to a serial it has no secret for is
   * listed but neither made nor connected.
   */
  readonly secret?: LinkSecret;
  /** Connect over TLS, trusting this; plain TCP when absent. */
  readonly tls?: LinkTlsClientOptions;
  readonly logger?: LinkLogger;
  readonly timing?: Partial<PathTiming>;
  /** Answers what a peer asks on a link's connection (PING, tracks, pair requests). */
  readonly serve: (connection: LinkConnection) => Promise<void>;
}

interface RunningPath {
  readonly spec: PathSpec;
  readonly links: readonly PathLink[];
}

export class PathManager implements PathService {
  private readonly paths = new Map<string, RunningPath>();
  private readonly timing: PathTiming;
  /** paths.json writes, one after another, so the last one written is the last one asked for. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(private readonly options: PathManagerOptions) {
    assert.ok(options.ssids.length > 0, "a storage system has at least one subsystem");
    this.timing = { ...DEFAULT_PATH_TIMING, ...options.timing };
  }

  /** Loads the paths kept in the data dir and starts connecting their links. */
  static async open(options: PathManagerOptions): Promise<PathManager> {
    const manager = new PathManager(options);
    for (const spec of await readPathFile(options.dataDir)) manager.start(spec);
    return manager;
  }

  /** The secret of links to `remoteSerial`: its own, else the shared one, else none. */
  private secretFor(remoteSerial: string): string | undefined {
    const secret = this.options.secret;
    return secret === undefined ? undefined : secretFor(secret, remoteSerial);
  }

  list(): PathInfo[] {
    return [...this.paths.values()].map(describePath);
  }

  async establish(request: EstablishRequest): Promise<PathInfo> {
    const spec = checkEstablish(request, this.options.ssids);
    const what = `Cannot establish a path from ${spec.ssid} to ${spec.remoteSerial}.${spec.remoteSsid}`;
    if (this.secretFor(spec.remoteSerial) === undefined) {
      throw new GsnapError(
        "LINK_SECRET_MISSING",
        `${what}: this system has no link secret for serial "${spec.remoteSerial}" (start it with gsnap serve --link-secret, or --link-peer ${spec.remoteSerial}:FILE)`,
      );
    }
    if (this.paths.has(pathKey(spec))) {
      throw new GsnapError(
        "PATH_EXISTS",
        `${what}: the path exists (remove it first to change it)`,
      );
    }
    const running = this.start(spec);
    try {
      await this.save();
    } catch (error) {
      this.stop(pathKey(spec));
      throw error;
    }
    await Promise.all(running.links.map((link) => link.firstAttempt));
    const path = describePath(running);
    if (path.state !== "failed" || request.keepFailed === true) return path;
    // Nothing came up: the request changes nothing, and says why each link failed.
    this.stop(pathKey(spec));
    await this.save();
    const reasons = path.links.map((link) => `${link.address}: ${link.reason}`).join("; ");
    throw new GsnapError(
      "PATH_FAILED",
      `${what}: no link came up (${reasons}); the path was not kept (keep it with --no-wait, and its links go on trying)`,
    );
  }

  async remove(request: { ssid: string; to: string }): Promise<void> {
    const ssid = checkSsid(request.ssid);
    const remote = parseRemote(request.to);
    const key = pathKey({ ssid, ...remote });
    if (!this.paths.has(key)) {
      throw new GsnapError(
        "PATH_NOT_FOUND",
        `Cannot remove the path from ${ssid} to ${remote.remoteSerial}.${remote.remoteSsid}: there is no such path`,
      );
    }
    this.stop(key);
    await this.save();
  }

  /**
   * The established connections of the path from a local SSID to a remote subsystem, one per
   * established link. PATH_NOT_FOUND when there is no such path, LINK_DOWN when none is up.
   */
  connectionsTo(route: {
    ssid: string;
    remoteSerial: string;
    remoteSsid: string;
  }): LinkConnection[] {
    const running = this.paths.get(pathKey(route));
    const name = `${route.ssid} to ${route.remoteSerial}.${route.remoteSsid}`;
    if (running === undefined) {
      throw new GsnapError(
        "PATH_NOT_FOUND",
        `There is no path from ${name} (establish one with gsnap path establish)`,
      );
    }
    const connections = running.links.flatMap((link) => link.liveConnection ?? []);
    if (connections.length === 0) {
      const reasons = running.links.map((link) => `${link.status.address}: ${link.status.reason}`);
      throw new GsnapError(
        "LINK_DOWN",
        `The path from ${name} has no established link (${reasons.join(", ")})`,
      );
    }
    return connections;
  }

  /** Closes every link; paths.json keeps the paths for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const running of this.paths.values()) for (const link of running.links) link.close();
    await this.writing;
  }

  private start(spec: PathSpec): RunningPath {
    assert.ok(!this.closed, "paths are not started after close");
    const links = spec.links.map(
      (address) =>
        new PathLink({
          address,
          remoteSerial: spec.remoteSerial,
          remoteSsid: spec.remoteSsid,
          serial: this.options.serial,
          ssids: this.options.ssids,
          secret: this.secretFor(spec.remoteSerial),
          tls: this.options.tls,
          logger: this.options.logger,
          timing: this.timing,
          serve: this.options.serve,
        }),
    );
    const running = { spec, links };
    this.paths.set(pathKey(spec), running);
    return running;
  }

  private stop(key: string): void {
    const running = this.paths.get(key);
    assert.ok(running !== undefined, "only a running path is stopped");
    for (const link of running.links) link.close();
    this.paths.delete(key);
  }

  private save(): Promise<void> {
    const specs = [...this.paths.values()].map((running) => running.spec);
    const write = this.writing.then(() => writePathFile(this.options.dataDir, specs));
    // A failed write fails its caller; the next write starts anyway.
    this.writing = write.catch(() => {});
    return write;
  }
}

function describePath(running: RunningPath): PathInfo {
  const links = running.links.map((link) => link.status);
  return {
    ssid: running.spec.ssid,
    remoteSerial: running.spec.remoteSerial,
    remoteSsid: running.spec.remoteSsid,
    state: pathState(links),
    links,
  };
}
