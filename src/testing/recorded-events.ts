// What a listener gate reported, as the metrics would count it: the limits tests of every port
// assert on these lists ("nbd:per_address", "link:idle").

import type { ListenerName } from "../limits/connection-limiter.js";
import type { ConnectionEvents } from "../limits/listener-gate.js";

export class RecordedEvents implements ConnectionEvents {
  readonly refused: string[] = [];
  readonly timedOut: string[] = [];

  connectionRefused(listener: ListenerName, reason: string): void {
    this.refused.push(`${listener}:${reason}`);
  }

  connectionTimedOut(listener: ListenerName, phase: string): void {
    this.timedOut.push(`${listener}:${phase}`);
  }
}
