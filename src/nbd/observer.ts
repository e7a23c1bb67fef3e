// What the NBD server tells the rest of the system: an observer for metrics (the API counts ops,
// bytes and latencies with it) and a logger (pino's shape, so the daemon can pass its own).

export interface NbdObserver {
  /**
   * Called once per command, when its reply is handed to the socket (for NBD_CMD_DISC, when the
   * connection starts to close). `op` is read, write, flush, trim, write_zeroes, block_status, disc
   * or unknown; `bytes` is the request's length for the commands that cover a range (read, write,
   * trim, write_zeroes, block_status) and 0 for the others; `ok` is false when an error was sent.
   */
  request(op: string, bytes: number, seconds: number, ok: boolean): void;
}

export interface NbdLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const silentLogger: NbdLogger = {
  info: () => {},
  warn: () => {},
};
