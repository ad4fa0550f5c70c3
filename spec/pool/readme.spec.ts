import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { POOL_DEFAULTS } from 'dionysus/pool';
import { ROOT } from '../integration/child.js';

/** The rows of the README's "Pool configuration" table: key → default cell. */
function poolTable(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^### /m).find((part) => part.startsWith('Pool configuration\n'));
  if (!section) throw new Error('README.md has no "### Pool configuration" section');
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split('|').map((cell) => cell.trim()));
  return new Map(rows.map(([, key = '', value = '']) => [key.replace(/`/g, ''), value]));
}

describe('the README documents every pool setting', () => {
  it('has one row per key of dionysus.pool.<name> with its default', () => {
    const table = poolTable();
    expect([...table.keys()]).to.deep.equal(Object.keys(POOL_DEFAULTS));
    for (const [key, value] of Object.entries(POOL_DEFAULTS)) {
      expect(table.get(key), key).to.equal(`\`${JSON.stringify(value)}\``);
    }
  });
});
