/** The most `GET /primes?below=N` takes: a sieve of N bytes and about N·log log N steps. */
export const MAX_BELOW = 10_000_000;

/** How long the sieve runs before it lets the event loop serve other requests and probes. */
const SLICE_MS = 10;

export interface Primes {
  below: number;
  count: number;
  /** The largest prime below `below`, or null when there is none. */
  largest: number | null;
}

/**
 * Counts the primes below `below` (a sieve of Eratosthenes): CPU-bound work
 * in slices of SLICE_MS, yielding between them so the server keeps answering,
 * and stopping when `signal` aborts (a pool's drain running out of time).
 */
export async function countPrimes(below: number, signal: AbortSignal): Promise<Primes> {
  const composite = new Uint8Array(below);
  let sliceStart = performance.now();
  for (let p = 2; p * p < below; p++) {
    if (composite[p]) continue;
    for (let m = p * p; m < below; m += p) composite[m] = 1;
    if (performance.now() - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      signal.throwIfAborted();
      sliceStart = performance.now();
    }
  }
  let count = 0;
  let largest: number | null = null;
  for (let n = 2; n < below; n++) {
    if (!composite[n]) {
      count++;
      largest = n;
    }
  }
  return { below, count, largest };
}
