/**
 * A stand-in for a real dependency (a queue, a database): it can be made to
 * fail with the `SAMPLE_DEPENDENCY_DOWN` environment variable.
 */
export class Dependency {
  get down(): boolean {
    return process.env.SAMPLE_DEPENDENCY_DOWN === '1';
  }

  async ping(): Promise<void> {
    if (this.down) throw new Error('dependency unreachable');
  }
}
