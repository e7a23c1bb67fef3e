// One NBD client connection: the I/O shell around the handshake state machine and the
// transmission runner. It owns the socket, collects received bytes, parses requests as they
// arrive and hands them on, applies backpressure, and closes the connection on a protocol
// violation (after one log line) without letting anything escape to the server.
//
// Phases: handshake -> transmission -> draining -> closed. A handshake may also go straight to
// closed (NBD_OPT_ABORT, an unknown NBD_OPT_EXPORT_NAME, a violation, a timeout). Draining
// (NBD_CMD_DISC, the client's end of stream, or server shutdown) reads nothing more, lets the
// requests in flight finish and send their replies, then ends the socket.
//
// NBD_OPT_STARTTLS (nbd-tls.ts): after its ACK the handshake waits while the TLS handshake runs on
// the same socket; the connection then reads and writes through the TLS socket instead.
//
// Its timers (handshake, idle, close grace) live in connection-timers.ts, and the way its replies
// reach the socket (held to the end of the turn, one writev) in reply-writer.ts.

import type net from "node:net";
import type tls from "node:tls";
import { type ConnectionTimeouts, ConnectionTimers } from "./connection-timers.js";
import type { ExportDirectory } from "./export-directory.js";
import { Handshake } from "./handshake.js";
import type { HostVolumes } from "./host-volumes.js";
import { type NbdTls, upgradeToTls } from "./nbd-tls.js";
import type { NbdLogger, NbdObserver } from "./observer.js";
import { Command, MAX_PAYLOAD_BYTES } from "./protocol.js";
import { ReceiveBuffer } from "./receive-buffer.js";
import { ReplyWriter } from "./reply-writer.js";
import { Transmission } from "./transmission.js";
import { decodeRequestHeader, REQUEST_HEADER_BYTES } from "./transmission-codec.js";

/**
 * Requests in flight on one connection before we stop reading: nbdcopy keeps 64 in flight per
 * connection and qemu 16, so neither waits on us; more would only queue inside the store, which
 * runs one change at a time anyway.
 */
export const MAX_IN_FLIGHT_REQUESTS = 64;

/**
 * Bytes held by the requests in flight on one connection (write payloads waiting for the store,
 * read data waiting for the socket) before we stop reading: two maximum payloads, which keeps
 * a deep queue of typical 256 KiB to 2 MiB requests moving while bounding memory per client.
 */
export const MAX_IN_FLIGHT_BYTES = 2 * MAX_PAYLOAD_BYTES;

/** What a connection tells about itself (tests, and the server's own accounting). */
export interface ConnectionStats {
  readonly phase: "handshake" | "transmission" | "draining" | "closed";
  /** True while we read no more requests: too many in flight, or replies the client has not read. */
  readonly readingPaused: boolean;
  /** Bytes held by the requests in flight: write payloads and read replies not yet sent. */
  readonly inFlightBytes: number;
  /** Bytes handed to the socket that the kernel has not taken yet. */
  readonly unsentBytes: number;
}

type Phase = "handshake" | "transmission" | "draining" | "closed";

export class NbdConnection {
  /** Resolves once the socket has closed. */
  readonly closed: Promise<void>;
  /** The client's socket: the TCP one, or the TLS one over it after NBD_OPT_STARTTLS. */
  private socket: net.Socket;
  /** Node TLS server options; undefined when the server does not offer TLS. */
  private readonly tlsOptions: tls.TlsOptions | undefined;
  private readonly store: HostVolumes;
  private readonly logger: NbdLogger;
  private readonly observer: NbdObserver | undefined;
  private readonly peer: string;
  private readonly handshake: Handshake;
  private readonly receive = new ReceiveBuffer();
  private transmission: Transmission | undefined;
  private phase: Phase = "handshake";
  private pumping = false;
  private paused = false;
  private readonly replies = new ReplyWriter(() => this.socket);
  private readonly timers: ConnectionTimers;
  private readonly onTimedOut: (phase: "handshake" | "idle") => void;

  constructor(
    socket: net.Socket,
    options: {
      store: HostVolumes;
      exports: ExportDirectory;
      logger: NbdLogger;
      observer?: NbdObserver;
      timeouts?: ConnectionTimeouts;
      /** Told when the connection is closed for a timeout. */
      onTimedOut?: (phase: "handshake" | "idle") => void;
      tls?: { readonly mode: NbdTls["mode"]; readonly serverOptions: tls.TlsOptions };
    },
  ) {
    this.socket = socket;
    this.tlsOptions = options.tls?.serverOptions;
    this.store = options.store;
    this.logger = options.logger;
    this.observer = options.observer;
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.timers = new ConnectionTimers(options.timeouts);
    this.onTimedOut = options.onTimedOut ?? (() => {});
    this.handshake = new Handshake(options.exports, { tlsMode: options.tls?.mode });
    // The TCP socket closes with the TLS socket over it, so this holds either way.
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.once("close", () => this.onClose());
    this.listen(socket);
    socket.setNoDelay(true);
    this.timers.startHandshake(() => this.onHandshakeTimeout());
    socket.write(this.handshake.greeting());
  }

  get stats(): ConnectionStats {
    return {
      phase: this.phase,
      readingPaused: this.paused,
      inFlightBytes: this.transmission?.inFlightBytes ?? 0,
      unsentBytes: this.socket.writableLength,
    };
  }

  private listen(socket: net.Socket): void {
    socket.on("error", (error) => this.onError(error));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onEnd());
  }

  /** Server shutdown: finish the requests in flight, send their replies, close. */
  shutdown(): Promise<void> {
    if (this.phase === "handshake") this.socket.destroy();
    else if (this.phase === "transmission") this.drain();
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    if (this.phase !== "handshake" && this.phase !== "transmission") return;
    this.receive.push(chunk);
    this.pump();
  }

  private onEnd(): void {
    if (this.phase !== "handshake" && this.phase !== "transmission") return;
    if (this.receive.length > 0) {
      this.logger.info(
        { peer: this.peer, phase: this.phase, bytes: this.receive.length },
        `Cannot finish NBD message from ${this.peer}: the client closed mid-message`,
      );
    }
    if (this.phase === "handshake") this.end();
    else this.drain();
  }

  private onError(error: Error): void {
    // A reset or broken pipe from the client; the socket closes itself next.
    this.logger.info({ peer: this.peer, err: error }, `NBD connection from ${this.peer} failed`);
  }

  private onClose(): void {
    this.phase = "closed";
    this.timers.stop();
  }

  private onHandshakeTimeout(): void {
    if (this.phase !== "handshake") return;
    this.onTimedOut("handshake");
    this.violation(`the handshake took over ${this.timers.timeouts.handshakeMs} ms`);
  }

  /**
   * The socket saw no byte either way for the idle timeout (connection-timers.ts). Requests
   * waiting on the store are not idleness: their replies re-arm it. A client that leaves our
   * replies unread is: the bytes it pins would otherwise be pinned forever.
   */
  private onIdle(): void {
    if (this.phase !== "transmission") return;
    const transmission = this.transmission as Transmission;
    if (transmission.inFlightRequests > 0 && this.socket.writableLength === 0) return;
    const unread = this.socket.writableLength;
    const { idleMs } = this.timers.timeouts;
    this.onTimedOut("idle");
    this.violation(
      unread > 0
        ? `it left ${unread} bytes of replies unread for ${idleMs} ms`
        : `it sent nothing for ${idleMs} ms`,
    );
  }

  /** Parses what has arrived; every error here ends this connection, never the server. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      if (this.phase === "handshake") this.pumpHandshake();
      if (this.phase === "transmission") this.pumpRequests();
    } catch (error) {
      this.logger.warn(
        { peer: this.peer, err: error },
        `Cannot serve ${this.peer}: internal error`,
      );
      this.phase = "closed";
      this.socket.destroy();
    } finally {
      this.pumping = false;
    }
  }

  private pumpHandshake(): void {
    while (this.phase === "handshake") {
      // A client that sends options without reading the replies gets no more answers until it
      // reads: replies must not pile up in memory.
      if (this.socket.writableNeedDrain) {
        this.pauseReading();
        this.socket.once("drain", () => {
          this.resumeReading();
          this.pump();
        });
        return;
      }
      const step = this.handshake.step(this.receive);
      if (step.next === "wait") return;
      this.replies.sendNow(step.replies);
      if (step.next === "starttls") {
        this.startTls();
        return;
      }
      if (step.next === "close") {
        if (step.reason === undefined) this.end();
        else this.violation(step.reason);
        return;
      }
      if (step.next === "transmission") {
        this.timers.handshakeOver();
        this.phase = "transmission";
        this.transmission = new Transmission({
          store: this.store,
          session: step.session,
          sink: this.replies,
          observer: this.observer,
          logger: this.logger,
        });
        this.transmission.onSettled = () => this.pump();
        this.timers.watchIdle(this.socket, () => this.onIdle());
        const { name } = step.session.export;
        this.logger.info(
          { peer: this.peer, volser: name },
          `NBD client ${this.peer} opened ${name}`,
        );
      }
    }
  }

  /**
   * Hands the socket to TLS once the STARTTLS ACK is sent. The client must wait for that ACK, so
   * bytes already here came before it: they would be taken as sent over TLS (the STARTTLS command
   * injection of CVE-2011-0411), so they close the connection instead.
   */
  private startTls(): void {
    if (this.receive.length > 0) {
      this.violation(`${this.receive.length} bytes came after NBD_OPT_STARTTLS, before TLS`);
      return;
    }
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("end");
    upgradeToTls(plain, this.tlsOptions as tls.TlsOptions).then(
      (secure) => {
        if (this.phase !== "handshake") {
          secure.destroy();
          return;
        }
        this.socket = secure;
        this.listen(secure);
        this.handshake.tlsStarted();
        const tlsFields = { protocol: secure.getProtocol(), cipher: secure.getCipher().name };
        this.logger.info({ peer: this.peer, ...tlsFields }, `NBD client ${this.peer} started TLS`);
        this.pump();
      },
      (error: Error) => {
        if (this.phase === "handshake")
          this.violation(`the TLS handshake failed: ${error.message}`);
        plain.destroy();
      },
    );
  }

  private pumpRequests(): void {
    const transmission = this.transmission as Transmission;
    while (this.phase === "transmission") {
      if (transmission.inFlightRequests >= MAX_IN_FLIGHT_REQUESTS) {
        this.pauseReading();
        return;
      }
      if (this.receive.length < REQUEST_HEADER_BYTES) break;
      const header = decodeRequestHeader(this.receive.peek(REQUEST_HEADER_BYTES));
      if (!header.ok) {
        this.violation(header.reason);
        return;
      }
      const request = header.value;
      // A read holds its reply's bytes until the client has read them, a write its payload: the
      // next request waits (and we stop reading) while it would take the connection past its
      // bound, so a client that never reads our replies pins MAX_IN_FLIGHT_BYTES at most. One
      // request alone always runs, or a single large one could never.
      const heldBytes =
        request.type === Command.READ || request.type === Command.WRITE ? request.lengthBytes : 0;
      if (
        transmission.inFlightRequests > 0 &&
        transmission.inFlightBytes + heldBytes > MAX_IN_FLIGHT_BYTES
      ) {
        this.pauseReading();
        return;
      }
      if (request.type === Command.DISC) {
        this.receive.skip(REQUEST_HEADER_BYTES);
        this.observeDisconnect();
        this.drain();
        return;
      }
      const payloadBytes = request.type === Command.WRITE ? request.lengthBytes : 0;
      if (payloadBytes > MAX_PAYLOAD_BYTES) {
        this.violation(`a write claims ${payloadBytes} bytes, over ${MAX_PAYLOAD_BYTES}`);
        return;
      }
      if (this.receive.length < REQUEST_HEADER_BYTES + payloadBytes) break;
      this.receive.skip(REQUEST_HEADER_BYTES);
      if (request.type === Command.WRITE) transmission.runWrite(request, this.receive);
      else transmission.run(request);
    }
    this.resumeReading();
  }

  private observeDisconnect(): void {
    try {
      this.observer?.request("disc", 0, 0, true);
    } catch (error) {
      this.logger.warn({ err: error }, "Cannot report an NBD request to the observer: it threw");
    }
  }

  private pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /** Reads nothing more, lets the requests in flight reply, then ends the connection. */
  private drain(): void {
    if (this.phase !== "transmission") return;
    this.phase = "draining";
    // Keep reading so the client's end of stream is seen and the socket can close, but parse
    // nothing more: onData drops what arrives from now on.
    this.resumeReading();
    const transmission = this.transmission as Transmission;
    transmission.idle().then(() => this.end());
  }

  /** Ends our side; a client that does not close its side in time is dropped. */
  private end(): void {
    if (this.phase !== "closed") this.phase = "draining";
    this.timers.handshakeOver();
    this.socket.end();
    this.timers.startCloseGrace(() => this.socket.destroy());
  }

  /** The client broke the protocol: one log line, and the connection goes. */
  private violation(reason: string): void {
    this.logger.warn(
      { peer: this.peer, phase: this.phase, reason },
      `Cannot serve NBD client ${this.peer}: ${reason}; closing the connection`,
    );
    this.phase = "closed";
    this.timers.handshakeOver();
    this.socket.destroy();
  }
}
