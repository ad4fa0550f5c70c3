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

  it('importing dionysus/redis and declaring a client load neither @redis/client, prom-client nor OpenTelemetry', () => {
    const loaded = [...loadedModules(['-e', "require('dionysus/redis').redisClient('cache')"]).packages.keys()];
    expect(
      loaded.filter((n) => n.startsWith('@redis/') || n === 'prom-client' || n.startsWith('@opentelemetry/')),
    ).to.deep.equal([]);
  });

  it('without @redis/client installed, dionysus/redis imports, and making a client says what to install', () => {
    // Resolving @redis/client fails as it does when the optional peer dependency is absent.
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request.startsWith('@redis/client')) throw Object.assign(new Error('Cannot find module ' + request), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const { redisClient } = require('dionysus/redis');
      const provider = redisClient('cache');
      try {
        provider.useFactory({ has: () => false, get: () => undefined, sourceOf: () => undefined });
      } catch (error) {
        process.stdout.write(error.message);
      }`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(out).to.equal(
      'dionysus/redis: a Redis client needs the @redis/client package; install it with `npm install @redis/client`',
    );
  });
});
