import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { AppConfig } from '../../lib/config/app-config.js';
import { validateSection } from '../../lib/config/validate.js';
import { parseSqlUrl, readSqlSettings, sqlDefaults } from '../../lib/sql/index.js';

const FORMS = '`sqlite:<path>`, `sqlite::memory:` or `postgres://user@host:port/database`';

describe('dionysus.sql.<name> settings', () => {
  it('are framework keys: each bad value or unknown key is named with what is wrong', () => {
    const problems = validateSection({
      sql: {
        main: {
          url: 'mysql://db',
          max: 0,
          acquireTimeoutMs: 0,
          statementTimeoutMs: Number.POSITIVE_INFINITY,
          health: { critical: 'yes', intervalMs: -1, ping: 1 },
          migrations: { onStartup: 'always' },
          poolSize: 5,
        },
        reports: { url: 'sqlite:' },
      },
    });
    expect(problems.map((p) => `${p.key} ${p.problem}`)).to.deep.equal([
      `sql.main.url is not a database URL (${FORMS})`,
      'sql.main.max is not a whole number (1 or more)',
      'sql.main.acquireTimeoutMs is not a positive number of milliseconds',
      'sql.main.statementTimeoutMs is not a positive number of milliseconds',
      'sql.main.health.critical is not true or false',
      'sql.main.health.intervalMs is not a positive number of milliseconds',
      'sql.main.health.ping is not a database setting (known here: intervalMs, timeoutMs, critical)',
      'sql.main.migrations.onStartup is not one of check, apply, off',
      'sql.main.poolSize is not a database setting (known here: url, max, acquireTimeoutMs, statementTimeoutMs, idleTimeoutMs, health, migrations)',
      `sql.reports.url names no file (${FORMS})`,
    ]);
  });

  it('accept every URL form, and good settings raise no problem', () => {
    expect(parseSqlUrl('sqlite::memory:')).to.deep.equal({ system: 'sqlite', file: ':memory:' });
    expect(parseSqlUrl('sqlite:data/app.sqlite')).to.deep.equal({ system: 'sqlite', file: 'data/app.sqlite' });
    expect(parseSqlUrl('sqlite:///var/lib/app.sqlite')).to.deep.equal({
      system: 'sqlite',
      file: '/var/lib/app.sqlite',
    });
    expect(parseSqlUrl('postgresql://u@h:5432/d')).to.deep.equal({
      system: 'postgresql',
      url: 'postgresql://u@h:5432/d',
    });
    expect(validateSection({ sql: { main: sqlDefaults('main') } })).to.deep.equal([]);
  });

  it('keep their waits finite by default: no unbounded acquire (pg defaults to forever)', () => {
    const defaults = sqlDefaults('main');
    expect(defaults.url).to.equal('sqlite:data/main.sqlite');
    expect(defaults.acquireTimeoutMs).to.be.above(0).and.below(Number.POSITIVE_INFINITY);
    expect(defaults.statementTimeoutMs).to.be.above(0).and.below(Number.POSITIVE_INFINITY);
    expect(defaults.migrations.onStartup).to.equal('check');
    expect(defaults.health.critical).to.equal(true);
  });

  it('are read for one database with the file a bad key came from, and DATABASE_URL checked by name', () => {
    const config = new AppConfig({ dionysus: { sql: { main: { max: 'many' } } } }, (key) =>
      key === 'dionysus.sql.main.max' ? 'config/production.json' : undefined,
    );
    expect(() => readSqlSettings(config, 'main', { DATABASE_URL: 'redis://cache' })).to.throw(
      `invalid configuration:\n  - dionysus.sql.main.max: "many" is not a whole number (1 or more) (from config/production.json)\n  - DATABASE_URL: "redis://cache" is not a database URL (${FORMS}) (from the environment)`,
    );
    const empty = new AppConfig({});
    expect(readSqlSettings(empty, 'main', {})).to.deep.equal(sqlDefaults('main'));
    expect(readSqlSettings(empty, 'main', { DATABASE_URL: 'sqlite::memory:' }).url).to.equal('sqlite::memory:');
  });

  it('fail the configuration load (node-config) naming the key, the value and the accepted forms', () => {
    const load = join(__dirname, '../../lib/config/load.js');
    const script = `try { require(${JSON.stringify(load)}).loadConfiguration(); } catch (e) { process.stdout.write(e.message); }`;
    const nodeConfig = JSON.stringify({ dionysus: { sql: { main: { url: 'mysql://db' } }, sqll: {} } });
    const out = execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, NODE_CONFIG: nodeConfig, NODE_CONFIG_DIR: join(__dirname, 'no-config') },
    }).toString();
    expect(out).to.include(`dionysus.sql.main.url: "mysql://db" is not a database URL (${FORMS}) (from $NODE_CONFIG)`);
    expect(out).to.match(/dionysus\.sqll: \{\} is not a framework key \(known here: [^)]*\bsql\b/);
  });
});
