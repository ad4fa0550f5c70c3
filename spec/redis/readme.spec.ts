import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { lookup } from '../../lib/config/validate.js';
import { REDIS_RULES, redisDefaults } from '../../lib/redis/settings.js';
import { ROOT } from '../integration/child.js';

describe('the README documents every redis client key', () => {
  it('with its default, checked against redisDefaults()', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('\n## Redis (`dionysus/redis`)\n')[1]?.split('\n## ')[0] ?? '';
    const rows = new Map(
      [...section.matchAll(/^\| `([\w.]+)` +\| `([^`]*)` +\|/gm)].map((m) => [m[1] as string, m[2] as string]),
    );
    expect([...rows.keys()].sort()).to.deep.equal(Object.keys(REDIS_RULES).sort());
    for (const [key, shown] of rows) {
      expect(JSON.parse(shown), key).to.deep.equal(lookup(redisDefaults(), key));
    }
  });
});
