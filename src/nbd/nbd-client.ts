// A small NBD client of gsnap's own, for machines without qemu-img or nbdcopy (the demo falls back
// to it): fixed newstyle handshake with NBD_OPT_GO, then one request at a time with simple
// replies: READ, WRITE, FLUSH and DISC. Built on the server's codecs (docs/nbd.md).

import net from "node:net";
import { GsnapError } from "../errors/gsnap-error.js";
import {
  decodeGreeting,
  decodeOptionReplyHeader,
  encodeClientFlags,
  encodeInfoRequest,
  encodeOption,
  GREETING_BYTES,
  OPTION_REPLY_HEADER_BYTES,
} from "./handshake-codec.js";
import { ClientFlag, Command, MAX_PAYLOAD_BYTES, Option, OptionReply } from "./protocol.js";
import { ReceiveBuffer } from "./receive-buffer.js";
import {
  decodeSimpleReply,
  encodeRequestHeader,
  SIMPLE_REPLY_BYTES,
} from "./transmission-codec.js";

/** Requests larger than this are split: well under the server's 32 MiB payload limit. */
const REQUEST_BYTES = Math.min(4 * 1024 * 1024, MAX_PAYLOAD_BYTES);

export class NbdClient {
  private readonly socket: net.Socket;
  private readonly received = new ReceiveBuffer();
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;
  private nextHandle = 1n;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.received.push(chunk);
      this.wake();
    });
    const fail = (error?: Error) => {
      this.failure ??= error ?? new Error("the server closed the connection");
      this.wake();
    };
    socket.on("error", fail);
    socket.on("close", () => fail());
  }

  /** Connects and opens `exportName` (a VOLSER) with NBD_OPT_GO. */
  static async connect(
    address: { host: string; port: number },
    exportName: string,
  ): Promise<NbdClient> {
    const socket = net.connect(address);
    // A request's header and data go as two writes: without this, Nagle holds the second until
    // the server's delayed ACK (40 ms).
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new NbdClient(socket);
    const greeting = decodeGreeting(await client.take(GREETING_BYTES));
    if (!greeting.ok) throw client.refused(`the greeting is wrong: ${greeting.reason}`);
    socket.write(encodeClientFlags(ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES));
    socket.write(encodeOption(Option.GO, encodeInfoRequest({ name: exportName, infos: [] })));
    for (;;) {
      const header = decodeOptionReplyHeader(await client.take(OPTION_REPLY_HEADER_BYTES));
      if (!header.ok) throw client.refused(`an option reply is wrong: ${header.reason}`);
      const data = await client.take(header.value.lengthBytes);
      if (header.value.type === OptionReply.ACK) return client;
      if (header.value.type !== OptionReply.INFO) {
        throw client.refused(
          `export "${exportName}" was refused: ${data.toString("utf8") || header.value.type}`,
        );
      }
    }
  }

  async read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let done = 0; done < lengthBytes; done += REQUEST_BYTES) {
      const length = Math.min(REQUEST_BYTES, lengthBytes - done);
      await this.request(Command.READ, { offsetBytes: offsetBytes + done, lengthBytes: length });
      parts.push(await this.take(length));
    }
    return Buffer.concat(parts);
  }

  async write(offsetBytes: number, data: Buffer): Promise<void> {
    for (let done = 0; done < data.length; done += REQUEST_BYTES) {
      const payload = data.subarray(done, done + REQUEST_BYTES);
      await this.request(
        Command.WRITE,
        { offsetBytes: offsetBytes + done, lengthBytes: payload.length },
        payload,
      );
    }
  }

  async flush(): Promise<void> {
    await this.request(Command.FLUSH, { offsetBytes: 0, lengthBytes: 0 });
  }

  async close(): Promise<void> {
    const header = {
      flags: 0,
      type: Command.DISC,
      handle: this.nextHandle++,
      offsetBytes: 0,
      lengthBytes: 0,
    };
    this.socket.end(encodeRequestHeader(header));
    await new Promise((resolve) => this.socket.once("close", resolve));
  }

  private async request(
    type: number,
    range: { offsetBytes: number; lengthBytes: number },
    payload?: Buffer,
  ) {
    const handle = this.nextHandle++;
    this.socket.write(encodeRequestHeader({ flags: 0, type, handle, ...range }));
    if (payload !== undefined) this.socket.write(payload);
    const reply = decodeSimpleReply(await this.take(SIMPLE_REPLY_BYTES));
    if (!reply.ok || reply.value.handle !== handle) throw this.refused("a reply is wrong");
    if (reply.value.error !== 0) {
      throw new GsnapError(
        "IO_ERROR",
        `Cannot complete NBD command ${type}: the server answered errno ${reply.value.error}`,
      );
    }
  }

  private async take(count: number): Promise<Buffer> {
    while (this.received.length < count) {
      if (this.failure !== undefined) throw this.refused(this.failure.message);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
    return this.received.take(count);
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  private refused(reason: string): GsnapError {
    this.socket.destroy();
    return new GsnapError("SERVER_UNREACHABLE", `Cannot use the NBD server: ${reason}`);
  }
}
