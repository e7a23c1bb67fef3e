// Sockets that read into buffers the link gives them (Node's `onread`) instead of a fresh 64 KiB
// buffer per read: the stream frame reader hands out its scratch or the rest of a big payload's
// slab. A copy of a gibibyte otherwise allocates 16,384 read buffers, and V8 answers each 64 MiB
// of them with a full garbage collection. TLS sockets cannot read this way and keep 'data' events.

import net, { type Socket } from "node:net";
import type { StreamFrameReader } from "./stream-frame-reader.js";

/** A socket's reads into a stream frame reader; the connection says what to do after each. */
export class SocketReads {
  private after: () => void = () => {};

  constructor(readonly reader: StreamFrameReader) {}

  /** The `onread` option of a socket that reads through this. */
  get onread(): net.OnReadOpts {
    return {
      buffer: () => this.reader.readBuffer(),
      callback: (bytes) => {
        this.reader.filled(bytes);
        this.after();
        // true: go on reading (false would pause the socket).
        return true;
      },
    };
  }

  /** Runs `after` once each read has been taken in (the connection takes the frames). */
  onRead(after: () => void): void {
    this.after = after;
  }
}

/**
 * A socket a TCP server accepted, moved to a socket that reads through `reads`. The server must
 * have been created with `pauseOnConnect`, so that nothing was read yet. Node takes `onread` only
 * when a socket is made, and a server makes its sockets itself: the accepted socket's handle goes
 * to a new one (`_handle` is Node's own field; where it is missing the socket is kept as it is
 * and undefined is returned). The accepted socket is destroyed when the new one closes, so that
 * the server's count of connections stays right.
 */
export function adoptReads(accepted: Socket, reads: SocketReads): Socket | undefined {
  const holder = accepted as unknown as { _handle?: object | null };
  const handle = holder._handle;
  if (handle === undefined || handle === null) return undefined;
  holder._handle = null;
  const options = { handle, onread: reads.onread } as net.SocketConstructorOpts;
  const adopted = new net.Socket(options);
  adopted.once("close", () => accepted.destroy());
  return adopted;
}
