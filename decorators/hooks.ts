import { type HookOptions, type HookPhase, onMethod } from './metadata.js';

/** Method decorators accept any member so misuse is reported by the planner, not hidden by a type error. */
export type MemberDecorator = (target: object, key: string | symbol, descriptor?: PropertyDescriptor) => void;

function hook(decorator: string, phase: HookPhase, options: HookOptions = {}): MemberDecorator {
  return (target, key, descriptor) =>
    onMethod(decorator, target, key, descriptor, (record, method) => {
      record.hooks.push({ phase, method, options });
    });
}

/** Runs before the command's run; Main's hooks first. Receives an AbortSignal that fires on its timeout. */
export const PreRun = (options?: HookOptions): MemberDecorator => hook('PreRun', 'prerun', options);

/** Runs after the run ends, also after a failure, so what PreRun opened is released. */
export const PostRun = (options?: HookOptions): MemberDecorator => hook('PostRun', 'postrun', options);

/** Runs on a stop signal, after servers drained and the run's AbortSignal fired. */
export const Shutdown = (options?: HookOptions): MemberDecorator => hook('Shutdown', 'shutdown', options);

/** The entry point of a task or ctl command: `(signal: AbortSignal) => Promise<void> | void`. */
export const Run = (): MemberDecorator => (target, key, descriptor) =>
  onMethod('Run', target, key, descriptor, (record, method) => {
    record.runs.push(method);
  });
