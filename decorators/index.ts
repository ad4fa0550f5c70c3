import 'reflect-metadata';

export { LivenessCheck, ReadinessCheck, StartupCheck } from './checks.js';
export { type MemberDecorator, PostRun, PreRun, Run, Shutdown } from './hooks.js';
export { Command, Main } from './main.js';
export type {
  CheckOptions,
  CommandOptions,
  HookOptions,
  MainOptions,
  OptionOptions,
  ProbeKind,
  ServerKind,
} from './metadata.js';
export { Option } from './option.js';
