import type { PoolLogger } from 'dionysus/pool';
import { Registry } from 'prom-client';

/** A promise with its resolve and reject at hand: a task that ends when the spec says so. */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued promise callbacks and p-queue's microtasks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** How a promise ended, without letting a rejection go unhandled. */
export function outcome<T>(promise: Promise<T>): {
  readonly state: 'pending' | 'resolved' | 'rejected';
  readonly value?: T;
  readonly error?: unknown;
} {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(seen, { state: 'resolved', value }),
    (error: unknown) => Object.assign(seen, { state: 'rejected', error }),
  );
  return seen;
}

/** A logger that keeps its lines. */
export function memoryLogger(): PoolLogger & { readonly lines: { level: string; fields: object; message: string }[] } {
  const lines: { level: string; fields: object; message: string }[] = [];
  return {
    lines,
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
}

/** The value of one series of a metric family, by its labels (a histogram: its `_count`). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const family = (await registry.getMetricsAsJSON()).find((metric) => metric.name === name);
  if (!family) throw new Error(`no metric ${name}`);
  const wanted = (family.type as unknown as string) === 'histogram' ? `${name}_count` : undefined;
  const sample = (family.values as { value: number; labels: Record<string, unknown>; metricName?: string }[]).find(
    (value) =>
      (wanted === undefined || value.metricName === wanted) &&
      Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected),
  );
  return sample?.value;
}

export { Registry };
