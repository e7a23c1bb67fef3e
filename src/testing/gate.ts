// A gate a test opens when it is ready: a paused GSC step (`pauseAt: { step, until: gate.until }`)
// or a fake waits on `until` instead of on a fixed time, so a slow machine cannot outrun the test.

export interface Gate {
  /** Settles when the gate is opened. */
  readonly until: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open: () => void = () => {};
  const until = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { until, open: () => open() };
}
