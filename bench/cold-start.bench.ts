/**
 * Cold `app --help` of the sample against a bare node start and against its
 * dependency floor (node loading inversify and clipanion, nothing else). The
 * issue's target: `app --help` ≤ 1.25× the dependency floor, medians of the
 * same run. What `--help` loads is listed so a heavy import shows up here.
 */
import { type Bench, coldStart, REPO_ROOT } from './harness.js';
import { describeModules, loadedModules, SAMPLE_HELP } from './modules.js';

const node = process.execPath;

const bench: Bench = {
  description: 'cold `app --help` of the sample against `node -e 0` and the dependency floor',
  run() {
    const report = coldStart(
      [
        { name: 'node -e 0', command: [node, '-e', '0'] },
        { name: 'dependency floor', command: [node, '-e', "require('inversify');require('clipanion')"] },
        { name: 'app --help', command: [node, ...SAMPLE_HELP] },
      ],
      {
        title: 'cold start: `app --help` of the sample',
        cwd: REPO_ROOT,
        baselines: ['node -e 0', 'dependency floor'],
        targets: [{ subject: 'app --help', baseline: 'dependency floor', max: 1.25 }],
      },
    );
    const notes = describeModules('app --help', loadedModules(SAMPLE_HELP), loadedModules(['-e', '0']));
    return { reports: [report], notes };
  },
};

export default bench;
