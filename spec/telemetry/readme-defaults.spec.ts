import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { frameworkDefaults } from '../../lib/config/defaults.js';
import { ENV_OVERRIDES } from '../../lib/config/load.js';
import { lookup, RULES } from '../../lib/config/validate.js';
import { ROOT } from '../integration/child.js';

interface Row {
  readonly env: string;
  readonly default: string;
  readonly meaning: string;
}

/** The table of the README's "Configuration" section, by key (without the backticks). */
function configurationTable(): Map<string, Row> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Configuration\n'));
  if (!section) throw new Error('README.md has no "## Configuration" section');
  const cells = (line: string): string[] =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((cell) => cell.trim());
  const lines = section.split('\n').filter((line) => line.trim().startsWith('|'));
  const [header, rule, ...rows] = lines;
  expect(cells(header ?? '')).to.deep.equal(['key', 'env override', 'default', 'meaning']);
  expect(cells(rule ?? '').every((cell) => /^:?-{3,}:?$/.test(cell))).to.equal(true);
  const table = new Map<string, Row>();
  for (const row of rows) {
    const [key = '', env = '', value = '', meaning = '', ...extra] = cells(row);
    expect(extra, row).to.deep.equal([]);
    const name = /^`([^`]+)`$/.exec(key)?.[1];
    if (!name) throw new Error(`a row of the configuration table names no key: ${row}`);
    expect(table.has(name), `${name} is documented twice`).to.equal(false);
    table.set(name, { env, default: value, meaning });
  }
  return table;
}

// Lightship's documented defaults drifted from its code; these cannot.
describe('the README documents every framework configuration key', () => {
  let table: Map<string, Row>;
  before(() => {
    table = configurationTable();
  });
  const keys = Object.keys(RULES);
  // The defaults that depend on the environment, e.g. drainDelayMs inside Kubernetes.
  const variants = [frameworkDefaults({}), frameworkDefaults({ KUBERNETES_SERVICE_HOST: '10.0.0.1' })];

  for (const key of keys) {
    it(`documents dionysus.${key}: its default, its env override and what it means`, () => {
      const row = table.get(`dionysus.${key}`);
      if (!row) throw new Error(`README.md's configuration table has no row for dionysus.${key}`);
      for (const defaults of variants) {
        const value = lookup(defaults, key);
        expect(value, `frameworkDefaults() has no dionysus.${key}`).to.not.equal(undefined);
        expect(row.default).to.include(`\`${JSON.stringify(value)}\``);
      }
      const overrides = ENV_OVERRIDES.filter(([, target]) => target === key).map(([name]) => `\`${name}\``);
      expect(row.env).to.equal(overrides.join(', '));
      expect(row.meaning).to.not.equal('');
    });
  }

  it('documents no key the framework does not have', () => {
    const known = keys.map((key) => `dionysus.${key}`);
    expect([...table.keys()].filter((key) => !known.includes(key))).to.deep.equal([]);
  });
});
