import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { lookup } from '../../lib/config/validate.js';
import { SQL_SETTING_KEYS, sqlDefaults } from '../../lib/sql/index.js';
import { ROOT } from '../integration/child.js';

/** The settings table of the README's sql section: key → default cell. */
function settingsTable(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('SQL databases'));
  if (!section) throw new Error('README.md has no "## SQL databases" section');
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return new Map(
    rows.map((row) => {
      const [key = '', , value = ''] = row
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((cell) => cell.trim());
      return [key.replace(/`/g, ''), value];
    }),
  );
}

describe('the README documents every dionysus.sql setting with its default', () => {
  it('has one row per setting, each default as sqlDefaults has it', () => {
    const table = settingsTable();
    expect([...table.keys()]).to.deep.equal(SQL_SETTING_KEYS);
    const defaults = sqlDefaults('<name>');
    for (const key of SQL_SETTING_KEYS) {
      expect(table.get(key), key).to.equal(`\`${JSON.stringify(lookup(defaults, key))}\``);
    }
  });
});
