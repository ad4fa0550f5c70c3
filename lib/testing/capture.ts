import { Writable } from 'node:stream';

/** A writable that keeps what was written, for asserting on output. */
export class Capture extends Writable {
  #chunks: string[] = [];

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.#chunks.push(chunk.toString());
    callback();
  }

  get text(): string {
    return this.#chunks.join('');
  }
}
