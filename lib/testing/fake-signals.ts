import type { SignalSource, StopSignal } from '../lifecycle/signals.js';

/** A signal source the test fires by hand: `signals.send('SIGTERM')`. */
export class FakeSignals implements SignalSource {
  #listeners = new Set<(signal: StopSignal) => void>();

  subscribe(listener: (signal: StopSignal) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether a run is listening (true once its lifecycle started). */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  send(signal: StopSignal = 'SIGTERM'): void {
    for (const listener of [...this.#listeners]) listener(signal);
  }
}
