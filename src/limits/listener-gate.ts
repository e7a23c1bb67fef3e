// The door of one listener: admits each accepted socket through the shared ConnectionLimiter
// (releasing its slot when the socket closes), and reports refusals and timeouts to the metrics
// and the log. A flood is refused thousands of times a second, so the log gets at most one line a
// second per listener, saying how many refusals it stands for.

import type { Socket } from "node:net";
import {
  ConnectionLimiter,
  type ListenerLimits,
  type ListenerName,
  type RefusalReason,
  type TimeoutPhase,
} from "./connection-limiter.js";

/** What the metrics count (ApiMetrics implements it). */
export interface ConnectionEvents {
  connectionRefused(listener: ListenerName, reason: RefusalReason): void;
  connectionTimedOut(listener: ListenerName, phase: TimeoutPhase): void;
}

/** pino's shape. */
export interface GateLogger {
  warn(obj: object, msg: string): void;
}

export interface Refusal {
  readonly reason: RefusalReason;
  /** `Cannot accept a connection from ADDRESS: why`, for the log and for the client. */
  readonly message: string;
}

/** Refusals of one listener are logged at most once in this long: a flood must not flood the log. */
const REFUSAL_LOG_INTERVAL_MS = 1_000;

export class ListenerGate {
  readonly listener: ListenerName;
  private readonly limiter: ConnectionLimiter;
  private readonly events: ConnectionEvents | undefined;
  private readonly logger: GateLogger | undefined;
  private lastLogMs = Number.NEGATIVE_INFINITY;
  private refusedSinceLog = 0;

  constructor(
    listener: ListenerName,
    options: { limiter: ConnectionLimiter; events?: ConnectionEvents; logger?: GateLogger },
  ) {
    this.listener = listener;
    this.limiter = options.limiter;
    this.events = options.events;
    this.logger = options.logger;
  }

  /** A gate with a limiter of its own, for a listener used alone (tests, tools). */
  static alone(listener: ListenerName, limits: ListenerLimits): ListenerGate {
    const limiter = new ConnectionLimiter({
      listeners: { [listener]: limits },
      maxTotal: Number.POSITIVE_INFINITY,
    });
    return new ListenerGate(listener, { limiter });
  }

  /**
   * Admits `socket`, its slot held until it closes; or returns why not, counted and logged. The
   * caller closes a refused socket, telling the client why where its protocol can.
   */
  admit(socket: Socket): Refusal | undefined {
    const address = socket.remoteAddress ?? "unknown";
    const admission = this.limiter.admit(this.listener, address);
    if (admission.ok) {
      socket.once("close", admission.release);
      return undefined;
    }
    const message = `Cannot accept a connection from ${address}: ${admission.message}`;
    this.count(() => this.events?.connectionRefused(this.listener, admission.reason));
    this.logRefusal({ address, reason: admission.reason, message });
    return { reason: admission.reason, message };
  }

  /** Reports a connection closed for taking too long (the caller closes it and logs its line). */
  timedOut(phase: TimeoutPhase): void {
    this.count(() => this.events?.connectionTimedOut(this.listener, phase));
  }

  private logRefusal(refusal: { address: string; reason: RefusalReason; message: string }): void {
    this.refusedSinceLog += 1;
    const now = performance.now();
    if (now - this.lastLogMs < REFUSAL_LOG_INTERVAL_MS) return;
    this.logger?.warn(
      {
        listener: this.listener,
        peer: refusal.address,
        reason: refusal.reason,
        refused: this.refusedSinceLog,
      },
      `${refusal.message} (${this.refusedSinceLog} refused since the last such line)`,
    );
    this.lastLogMs = now;
    this.refusedSinceLog = 0;
  }

  /** Metrics must never break a listener. */
  private count(report: () => void): void {
    try {
      report();
    } catch (error) {
      this.logger?.warn({ err: error }, "Cannot count a connection event: the metrics threw");
    }
  }
}
