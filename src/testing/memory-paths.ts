// A PathService with no links behind it, for API tests: it checks requests as the PathManager
// does (the same pure checks) and keeps paths in memory, every link established.

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
import type { PathInfo } from "../pprc/path-state.js";

const SINCE = "2026-01-01T00:00:00.000Z";

export class MemoryPaths implements PathService {
  private readonly paths = new Map<string, PathSpec>();

  constructor(private readonly ssids: readonly string[]) {}

  list(): PathInfo[] {
    return [...this.paths.values()].map((spec) => ({
      ssid: spec.ssid,
      remoteSerial: spec.remoteSerial,
      remoteSsid: spec.remoteSsid,
      state: "established",
      links: spec.links.map((address) => ({ address, state: "established", since: SINCE })),
    }));
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
    if (!this.paths.delete(key)) {
      throw new GsnapError(
        "PATH_NOT_FOUND",
        `Cannot remove the path to ${request.to}: there is no such path`,
      );
    }
  }
}
