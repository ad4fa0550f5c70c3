/**
 * The exec probes' flags, for their help: the probe's own (`app readiness
 * --help`, answered before the app loads) and the CLI's. Imports nothing.
 */
/** Below Kubernetes' default probe timeout of 1 s, so the probe answers before the kubelet gives up. */
export const DEFAULT_TIMEOUT_MS = 800;

export const PROBE_FLAGS = [
  { flag: '--command', value: 'NAME', description: 'the running command to ask, when several run here' },
  {
    flag: '--runtime-dir',
    value: 'DIR',
    description: 'where the runtime descriptor is (default DIONYSUS_RUNTIME_DIR, else <os tmp>/dionysus-<app>)',
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
