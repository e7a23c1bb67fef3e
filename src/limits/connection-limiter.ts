// Counts the connections each listener (NBD, API, peer link) holds, by client address and in all,
// and decides whether one more may come in. Pure: the listeners do the socket I/O around it
// (listener-gate.ts). Three caps, checked from the narrowest out, so that a client that floods
// hears about its own share first:
//   per_address  this listener's connections from one address (one host cannot take every slot);
//   total        this listener's connections in all;
//   descriptors  every listener's connections together, which the daemon sizes so that file
//                descriptors always stay free for the store's own files (descriptor-budget.ts).

import assert from "node:assert/strict";

export type ListenerName = "nbd" | "api" | "link";
export type RefusalReason = "per_address" | "total" | "descriptors";
export type TimeoutPhase = "handshake" | "idle";

export const LISTENER_NAMES: readonly ListenerName[] = ["nbd", "api", "link"];
export const REFUSAL_REASONS: readonly RefusalReason[] = ["per_address", "total", "descriptors"];
export const TIMEOUT_PHASES: readonly TimeoutPhase[] = ["handshake", "idle"];

export interface ListenerLimits {
  /** Connections this listener holds at most. */
  readonly maxConnections: number;
  /** Connections from one client address this listener holds at most. */
  readonly maxPerAddress: number;
}

export type Admission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly reason: RefusalReason; readonly message: string };

interface Counts {
  readonly limits: ListenerLimits;
  total: number;
  readonly byAddress: Map<string, number>;
}

export class ConnectionLimiter {
  private readonly listeners = new Map<ListenerName, Counts>();
  private readonly maxTotal: number;
  private total = 0;

  constructor(options: {
    readonly listeners: Partial<Record<ListenerName, ListenerLimits>>;
    /** Connections of every listener together; Infinity for no process-wide cap. */
    readonly maxTotal: number;
  }) {
    assert.ok(options.maxTotal >= 0, "the process-wide cap is not negative");
    this.maxTotal = options.maxTotal;
    for (const [name, limits] of Object.entries(options.listeners)) {
      assert.ok(limits.maxConnections >= 1, `${name} takes at least one connection`);
      assert.ok(limits.maxPerAddress >= 1, `${name} takes at least one connection per address`);
      this.listeners.set(name as ListenerName, { limits, total: 0, byAddress: new Map() });
    }
  }

  /** Admits one connection of `listener` from `address`, or says which cap refuses it. */
  admit(listener: ListenerName, address: string): Admission {
    const counts = this.listeners.get(listener);
    assert.ok(counts !== undefined, `the limiter knows the ${listener} listener`);
    const fromAddress = counts.byAddress.get(address) ?? 0;
    const { maxConnections, maxPerAddress } = counts.limits;
    if (fromAddress >= maxPerAddress) {
      return refuse(
        "per_address",
        `${address} holds ${fromAddress} ${listener} connections, the most one address may`,
      );
    }
    if (counts.total >= maxConnections) {
      return refuse(
        "total",
        `the ${listener} listener holds ${counts.total} connections, its most`,
      );
    }
    if (this.total >= this.maxTotal) {
      return refuse(
        "descriptors",
        `the system holds ${this.total} connections, the most its file descriptors allow`,
      );
    }
    counts.total += 1;
    counts.byAddress.set(address, fromAddress + 1);
    this.total += 1;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.release(counts, address);
      },
    };
  }

  /** Connections held now: of one listener (from one address), or of all. */
  count(listener?: ListenerName, address?: string): number {
    if (listener === undefined) return this.total;
    const counts = this.listeners.get(listener);
    if (counts === undefined) return 0;
    return address === undefined ? counts.total : (counts.byAddress.get(address) ?? 0);
  }

  private release(counts: Counts, address: string): void {
    const fromAddress = counts.byAddress.get(address) ?? 0;
    assert.ok(fromAddress > 0, "a released connection was counted for its address");
    assert.ok(counts.total > 0, "a released connection was counted for its listener");
    assert.ok(this.total > 0, "a released connection was counted in all");
    if (fromAddress === 1) counts.byAddress.delete(address);
    else counts.byAddress.set(address, fromAddress - 1);
    counts.total -= 1;
    this.total -= 1;
  }
}

function refuse(reason: RefusalReason, message: string): Admission {
  return { ok: false, reason, message };
}
