/**
 * A stand-in for a real dependency (a queue, a database): every ping is a
 * round trip that takes a few milliseconds, as it would over the network, so
 * the app's checks never answer within the same tick. It can be made to fail
 * with the `SAMPLE_DEPENDENCY_DOWN` environment variable, and slower with
 * `SAMPLE_DEPENDENCY_LATENCY_MS` (default 5).
 */
export class Dependency {
  get latencyMs(): number {
    const ms = Number(process.env.SAMPLE_DEPENDENCY_LATENCY_MS || 5);
    return Number.isFinite(ms) && ms >= 0 ? ms : 5;
  }

  get down(): boolean {
    return process.env.SAMPLE_DEPENDENCY_DOWN === '1';
  }

  async ping(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (this.down) throw new Error('dependency unreachable');
  }
}
