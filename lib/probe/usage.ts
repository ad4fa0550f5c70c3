/**
 * The exec probes' flags and help text, for the probe's own usage lines and
 * for the CLI's `--help`. Loaded only to print them: a probe that passes
 * never parses this file (bench/probes).
 */
import { DEFAULT_TIMEOUT_MS } from './files.js';

export const PROBE_FLAGS = [
  { flag: '--command', value: 'NAME', description: 'the running command to ask, when several run here' },
  {
    flag: '--runtime-dir',
    value: 'DIR',
    description:
      "where the runtime descriptor is (default DIONYSUS_RUNTIME_DIR, else this user's dionysus-<app> directory)",
  },
  {
    flag: '--timeout',
    value: 'MS',
    description: `give up after this many milliseconds (default ${DEFAULT_TIMEOUT_MS})`,
  },
] as const;

export const PROBE_USAGE = `startup|liveness|readiness ${PROBE_FLAGS.map((f) => `[${f.flag} ${f.value}]`).join(' ')}`;

export const PROBE_DETAILS =
  'Finds the running command through its runtime descriptor and asks it over its transport: exit 0 when the probe passes, 1 with one line saying why when it fails. With HEALTH_STATUS=open|close, flips the switch instead.';
