/**
 * Where a command writes what it prints, injectable by type: process.stdout
 * in the binary, a captured stream under `runCommand` (dionysus/testing),
 * which returns what was written as `stdout`. A task's log lines go to
 * stderr, so its Output is its own (`app report --format json | jq`).
 * @example
 * constructor(private readonly out: Output) {}
 * this.out.write(`${report}\n`);
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the class is only a container token; the interface gives it a stream's type
export abstract class Output {}
export interface Output extends NodeJS.WritableStream {}
