/** A provider the greet command gets by constructor injection. */
export class Greeter {
  greet(name: string): string {
    return `hello ${name}`;
  }
}
