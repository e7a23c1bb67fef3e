// What the peer link tells the rest of the system: a logger in pino's shape, so the daemon can pass
// its own and tests can collect the lines.

export interface LinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const silentLinkLogger: LinkLogger = {
  info: () => {},
  warn: () => {},
};
