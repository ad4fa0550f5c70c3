import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { loadedModules, SAMPLE_HELP } from '../../bench/modules.js';
import { ROOT } from '../integration/child.js';

describe('dionysus/redis loads only when an app registers a client', () => {
  it('app --help loads nothing of @redis/client', () => {
    const loaded = [...loadedModules(SAMPLE_HELP).packages.keys()];
    expect(loaded).to.include('clipanion');
    expect(loaded.filter((name) => name.startsWith('@redis/'))).to.deep.equal([]);
  });

  it('dionysus and the config check of a dionysus.redis section load no driver', () => {
    const script = `
      require('./dist/lib/index.js');
      const { validateSection } = require('./dist/lib/config/validate.js');
      validateSection({ redis: { main: { url: 'redis://127.0.0.1:6379' } } });
      process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('@redis'))));`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).to.deep.equal([]);
  });
});
