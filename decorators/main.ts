import { type CommandOptions, type MainOptions, updateRecord } from './metadata.js';

/**
 * Marks the app root. Its `@PreRun`, `@PostRun` and `@Shutdown` hooks apply to
 * every command.
 * @example
 * @Main({ name: 'app', commands: [HttpCommand, GreetCommand] })
 * export class App {}
 */
export function Main(options: MainOptions): ClassDecorator {
  return (target) => updateRecord(target, (record) => void (record.main = options));
}

/**
 * Declares a subcommand. `http`, `grpc` and `ctl` name a server by default;
 * any other name is a task whose `@Run()` method runs to completion.
 * @example
 * @Command('greet', { description: 'Say hello' })
 * export class GreetCommand { @Run() run() {} }
 */
export function Command(name: string, options: CommandOptions = {}): ClassDecorator {
  return (target) => updateRecord(target, (record) => void (record.command = { name, options }));
}
