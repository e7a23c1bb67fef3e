// A PathService with no links behind it, for API tests: it checks requests as the PathManager
// does (the same pure checks) and keeps paths in memory, every link established until a test
// sets it otherwise with `setLink` (to show a failed link and its reason).

import assert from "node:assert";
import { GsnapError } from "../errors/gsnap-error.js";
import { checkSsid } from "../geometry/names.js";
import type { PathService } from "../pprc/path-service.js";
import {
  checkEstablish,
  type EstablishRequest,
  type PathSpec,
  parseRemote,
  pathKey,
} from "../pprc/path-spec.js";
import { type LinkStatus, type PathInfo, pathState } from "../pprc/path-state.js";

const SINCE = "2026-01-01T00:00:00.000Z";

export class MemoryPaths implements PathService {
  private readonly paths = new Map<string, PathSpec>();
  /** Links a test has set, by path key and address; any other link is established. */
  private readonly links = new Map<string, LinkStatus>();

  constructor(private readonly ssids: readonly string[]) {}

  list(): PathInfo[] {
    return [...this.paths.values()].map((spec) => {
      const links = spec.links.map(
        (address): LinkStatus =>
          this.links.get(`${pathKey(spec)} ${address}`) ?? {
            address,
            state: "established",
            since: SINCE,
            bytesSent: 0,
            bytesReceived: 0,
          },
      );
      return {
        ssid: spec.ssid,
        remoteSerial: spec.remoteSerial,
        remoteSsid: spec.remoteSsid,
        state: pathState(links),
        links,
      };
    });
  }

  /** Sets the status of one link of an established path, as a PathLink would report it. */
  setLink(path: { ssid: string; to: string }, link: LinkStatus): void {
    const key = pathKey({ ssid: checkSsid(path.ssid), ...parseRemote(path.to) });
    const spec = this.paths.get(key);
    assert(spec !== undefined, `no path from ${path.ssid} to ${path.to}`);
    assert(spec.links.includes(link.address), `no link ${link.address} on that path`);
    this.links.set(`${key} ${link.address}`, link);
  }

  async establish(request: EstablishRequest): Promise<PathInfo> {
    const spec = checkEstablish(request, this.ssids);
    if (this.paths.has(pathKey(spec))) {
      throw new GsnapError("PATH_EXISTS", `Cannot establish a path to ${request.to}: it exists`);
    }
    this.paths.set(pathKey(spec), spec);
    return this.list().find((path) => pathKey(path) === pathKey(spec)) as PathInfo;
  }

  async remove(request: { ssid: string; to: string }): Promise<void> {
    const key = pathKey({ ssid: checkSsid(request.ssid), ...parseRemote(request.to) });
    for (const link of this.links.keys()) if (link.startsWith(`${key} `)) this.links.delete(link);
    if (!this.paths.delete(key)) {
      throw new GsnapError(
        "PATH_NOT_FOUND",
        `Cannot remove the path to ${request.to}: there is no such path`,
      );
    }
  }
}
