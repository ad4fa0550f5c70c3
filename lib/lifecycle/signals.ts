export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGQUIT';

export const SIGNAL_NUMBERS: Record<StopSignal, number> = { SIGINT: 2, SIGTERM: 15, SIGQUIT: 3 };

/** Where stop signals come from; tests pass a fake one (dionysus/testing). */
export interface SignalSource {
  /** Calls `listener` for every stop signal until the returned function is called. */
  subscribe(listener: (signal: StopSignal) => void): () => void;
}

/**
 * The process's SIGINT, SIGTERM and SIGQUIT. SIGHUP is ignored while
 * subscribed: a terminal closing must not kill a server.
 */
export const processSignals: SignalSource = {
  subscribe(listener) {
    const handlers = (Object.keys(SIGNAL_NUMBERS) as StopSignal[]).map((signal) => {
      const handler = (): void => listener(signal);
      process.on(signal, handler);
      return [signal, handler] as const;
    });
    const ignore = (): void => {};
    process.on('SIGHUP', ignore);
    // Signal listeners do not keep node alive: a run that only awaits its
    // AbortSignal would let the process exit 0 at once, skipping Shutdown and
    // PostRun. Waiting for a stop signal must hold the process open.
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    return () => {
      clearInterval(keepAlive);
      for (const [signal, handler] of handlers) process.off(signal, handler);
      process.off('SIGHUP', ignore);
    };
  },
};
