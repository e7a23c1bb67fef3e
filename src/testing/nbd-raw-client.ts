// A bare NBD client for tests that need to say exactly what goes on the wire: malformed and
// truncated messages, many requests in flight, simple replies, commands real clients never send.
// It speaks through the server's own codecs, so the tests of those codecs and of the real clients
// keep it honest.

import net from "node:net";
import tls from "node:tls";
import {
  decodeGreeting,
  decodeOptionReplyHeader,
  encodeClientFlags,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
  GREETING_BYTES,
  OPTION_REPLY_HEADER_BYTES,
} from "../nbd/handshake-codec.js";
import {
  BASE_ALLOCATION,
  ClientFlag,
  Command,
  Info,
  Option,
  OptionReply,
  ReplyFlag,
  SIMPLE_REPLY_MAGIC,
} from "../nbd/protocol.js";
import { ReceiveBuffer } from "../nbd/receive-buffer.js";
import {
  decodeSimpleReply,
  decodeStructuredHeader,
  encodeRequestHeader,
  type Request,
  SIMPLE_REPLY_BYTES,
  STRUCTURED_HEADER_BYTES,
} from "../nbd/transmission-codec.js";

/** How long a test waits for bytes from the server before it fails. */
const READ_TIMEOUT_MS = 10_000;

export interface OptionReplyMessage {
  readonly type: number;
  readonly data: Buffer;
}

/** A whole reply: a simple one, or the chunks of a structured one up to its DONE chunk. */
export interface Reply {
  readonly handle: bigint;
  /** The simple reply's error, or the first error chunk's error; 0 for success. */
  readonly error: number;
  /** A read's data (simple replies only). */
  readonly data?: Buffer;
  readonly chunks: readonly { type: number; flags: number; payload: Buffer }[];
}

export class RawNbdClient {
  /** The TCP socket, or the TLS socket over it after startTls. */
  socket: net.Socket;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  private readonly input = new ReceiveBuffer();
  private waiter: (() => void) | undefined;
  private ended = false;
  private nextHandle = 1n;
  private readonly readLengths = new Map<bigint, number>();
  private readonly partial = new Map<bigint, Reply>();
  structuredReplies = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.ended = true;
        this.waiter?.();
        resolve();
      });
    });
    socket.on("error", () => {});
  }

  private listen(socket: net.Socket): void {
    socket.on("data", (chunk: Buffer) => {
      this.input.push(chunk);
      this.waiter?.();
    });
  }

  /**
   * Sends NBD_OPT_STARTTLS and, on its ACK, runs the TLS handshake with `options` on the same
   * socket; resolves with the replies (an error reply leaves the connection plain).
   */
  async startTls(options: tls.ConnectionOptions): Promise<OptionReplyMessage[]> {
    const replies = await this.option(Option.STARTTLS);
    if (replies[0].type !== OptionReply.ACK) return replies;
    const plain = this.socket;
    plain.removeAllListeners("data");
    const secure = tls.connect({ ...options, socket: plain });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    secure.on("error", () => {});
    this.socket = secure;
    this.listen(secure);
    return replies;
  }

  /** `localAddress` (e.g. 127.0.0.2, which Linux routes over loopback) poses as another host. */
  static connect(
    address: { host: string; port: number },
    localAddress?: string,
  ): Promise<RawNbdClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: address.port, host: address.host, localAddress });
      socket.once("connect", () => resolve(new RawNbdClient(socket)));
      socket.once("error", reject);
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next `count` bytes from the server. */
  async read(count: number): Promise<Buffer> {
    await this.arrived(count);
    return this.input.take(count);
  }

  private async arrived(count: number): Promise<void> {
    const deadline = Date.now() + READ_TIMEOUT_MS;
    while (this.input.length < count) {
      if (this.ended) throw new Error(`Cannot read ${count} bytes: the server closed`);
      if (Date.now() > deadline) throw new Error(`Cannot read ${count} bytes: timed out`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** True when the server closes the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs));
    return Promise.race([this.closed.then(() => true as const), timeout]);
  }

  /** Reads the greeting and sends the client flags. */
  async handshake(flags = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES): Promise<number> {
    const greeting = decodeGreeting(await this.read(GREETING_BYTES));
    if (!greeting.ok) throw new Error(greeting.reason);
    this.write(encodeClientFlags(flags));
    return greeting.value.flags;
  }

  /** Sends an option and reads its replies up to the final one (an ACK or an error). */
  async option(option: number, data?: Buffer): Promise<OptionReplyMessage[]> {
    this.write(encodeOption(option, data));
    const replies: OptionReplyMessage[] = [];
    for (;;) {
      const header = decodeOptionReplyHeader(await this.read(OPTION_REPLY_HEADER_BYTES));
      if (!header.ok) throw new Error(header.reason);
      const reply = { type: header.value.type, data: await this.read(header.value.lengthBytes) };
      replies.push(reply);
      if (reply.type === OptionReply.ACK || reply.type >= 0x80000000) return replies;
    }
  }

  /**
   * The whole handshake up to transmission with NBD_OPT_GO: structured replies and base:allocation
   * unless turned off. Returns the export's size and transmission flags.
   */
  async open(
    name: string,
    options: { structured?: boolean; allocation?: boolean; greeted?: boolean } = {},
  ): Promise<{ sizeBytes: number; flags: number }> {
    // greeted: the greeting was read already (before a startTls).
    if (!options.greeted) await this.handshake();
    if (options.structured ?? true) {
      await this.option(Option.STRUCTURED_REPLY);
      this.structuredReplies = true;
      if (options.allocation ?? true) {
        const request = encodeMetaContextRequest({ name, queries: [BASE_ALLOCATION] });
        await this.option(Option.SET_META_CONTEXT, request);
      }
    }
    const replies = await this.option(Option.GO, encodeInfoRequest({ name, infos: [] }));
    const last = replies[replies.length - 1];
    if (last.type !== OptionReply.ACK) throw new Error(`NBD_OPT_GO failed: ${last.data}`);
    const info = replies.find((reply) => reply.data.readUInt16BE(0) === Info.EXPORT);
    if (info === undefined) throw new Error("NBD_OPT_GO sent no NBD_INFO_EXPORT");
    return {
      sizeBytes: Number(info.data.readBigUInt64BE(2)),
      flags: info.data.readUInt16BE(10),
    };
  }

  /** Sends a request (and a write's payload); returns its handle. */
  send(request: Partial<Request> & { type: number }, payload?: Buffer): bigint {
    const handle = request.handle ?? this.nextHandle++;
    const full: Request = {
      flags: 0,
      offsetBytes: 0,
      lengthBytes: payload?.length ?? 0,
      ...request,
      handle,
    };
    if (full.type === Command.READ) this.readLengths.set(handle, full.lengthBytes);
    this.write(encodeRequestHeader(full));
    if (payload !== undefined) this.write(payload);
    return handle;
  }

  /** The next complete reply, whichever request it answers. */
  async reply(): Promise<Reply> {
    for (;;) {
      const magic = (await this.peek(4)).readUInt32BE(0);
      if (magic === SIMPLE_REPLY_MAGIC) return this.simpleReply();
      const header = decodeStructuredHeader(await this.read(STRUCTURED_HEADER_BYTES));
      if (!header.ok) throw new Error(header.reason);
      const { handle, flags, type, lengthBytes } = header.value;
      const payload = await this.read(lengthBytes);
      const sofar = this.partial.get(handle) ?? { handle, error: 0, chunks: [] };
      const error = sofar.error !== 0 || type < 0x8000 ? sofar.error : payload.readUInt32BE(0);
      const reply = { handle, error, chunks: [...sofar.chunks, { type, flags, payload }] };
      if ((flags & ReplyFlag.DONE) === 0) {
        this.partial.set(handle, reply);
        continue;
      }
      this.partial.delete(handle);
      this.readLengths.delete(handle);
      return reply;
    }
  }

  /** Replies to `count` requests, by handle. */
  async replies(count: number): Promise<Map<bigint, Reply>> {
    const replies = new Map<bigint, Reply>();
    while (replies.size < count) {
      const reply = await this.reply();
      replies.set(reply.handle, reply);
    }
    return replies;
  }

  private async simpleReply(): Promise<Reply> {
    const decoded = decodeSimpleReply(await this.read(SIMPLE_REPLY_BYTES));
    if (!decoded.ok) throw new Error(decoded.reason);
    const { handle, error } = decoded.value;
    const readLength = this.readLengths.get(handle);
    this.readLengths.delete(handle);
    if (readLength === undefined || error !== 0) return { handle, error, chunks: [] };
    return { handle, error, data: await this.read(readLength), chunks: [] };
  }

  private async peek(count: number): Promise<Buffer> {
    await this.arrived(count);
    return this.input.peek(count);
  }
}
