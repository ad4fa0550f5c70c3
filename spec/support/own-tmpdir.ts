import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Loaded by mocha before any spec (.mocharc.yml): gives this run its own
 * temp dir, inherited by every child process. Default runtime directories
 * (`<os tmp>/dionysus-<uid>-<app>`) are claimed by one live instance each,
 * so two runs of the suite on one host, as the same user, must not share
 * them. Mode 0755: specs that play a second OS user reach dirs inside it.
 */
const dir = mkdtempSync(join(tmpdir(), 'dionysus-spec-run-'));
chmodSync(dir, 0o755);
process.env.TMPDIR = dir;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
