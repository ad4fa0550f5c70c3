import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Exit, fixture, killChildren, node, stackLines } from '../integration/child.js';
import { hookLines, logLines, waitForLog, withoutShellConfig } from './log-lines.js';

const APP = fixture('config-app');

/** What `config-app show` / `plain` print as `config <json>`. */
interface Shown {
  greeting?: string;
  greetingFrom?: string | null;
  db?: unknown;
  hasGreeting?: boolean;
  logLevel: string;
}

function shown(exit: Exit): Shown {
  const lines = exit.lines.filter((line) => line.startsWith('config '));
  expect(lines, exit.stdout + exit.stderr).to.have.length(1);
  return JSON.parse((lines[0] as string).slice('config '.length)) as Shown;
}

/** The problems an invalid configuration is reported with: one `  - …` line each, on stderr. */
function problems(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('  - '))
    .map((line) => line.slice('  - '.length));
}

describe('configuration: node-config files, NODE_CONFIG and environment overrides', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dionysus-config-'));
  });

  afterEach(async () => {
    await killChildren();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes `<dir>/config/<name>` for each file given, as JSON. */
  function configFiles(files: Record<string, unknown>): string {
    const configDir = join(dir, 'config');
    mkdirSync(configDir, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(configDir, name), JSON.stringify(content));
    return configDir;
  }

  /** Runs the fixture app from `dir` (the app's folder), with `dir/config` as NODE_CONFIG_DIR when it exists. */
  function runApp(argv: string[], env: Record<string, string | undefined> = {}, cwd = dir): Promise<Exit> {
    return node(APP, argv, { cwd, env: { ...withoutShellConfig(), ...env } }).waitForExit();
  }

  describe('precedence', () => {
    const layers = {
      'default.json': {
        greeting: 'from default.json',
        db: { url: 'postgres://db', pool: 5 },
        dionysus: { log: { level: 'error' } },
      },
      'staging.json': { greeting: 'from staging.json', db: { pool: 10 }, dionysus: { log: { level: 'warn' } } },
    };
    const nodeConfig = JSON.stringify({ greeting: 'from NODE_CONFIG', dionysus: { log: { level: 'debug' } } });

    it('reads config/default.json', async () => {
      const configDir = configFiles(layers);
      const exit = await runApp(['show'], { NODE_CONFIG_DIR: configDir });
      expect(exit.code, exit.stderr).to.equal(0);
      expect(shown(exit)).to.deep.equal({
        greeting: 'from default.json',
        greetingFrom: join('config', 'default.json'),
        db: { url: 'postgres://db', pool: 5 },
        logLevel: 'error',
      });
    });

    it('lets config/{NODE_ENV}.json override it, key by key', async () => {
      const configDir = configFiles(layers);
      const exit = await runApp(['show'], { NODE_CONFIG_DIR: configDir, NODE_ENV: 'staging' });
      expect(shown(exit)).to.deep.equal({
        greeting: 'from staging.json',
        greetingFrom: join('config', 'staging.json'),
        db: { url: 'postgres://db', pool: 10 },
        logLevel: 'warn',
      });
    });

    it('lets NODE_CONFIG override both files', async () => {
      const configDir = configFiles(layers);
      const exit = await runApp(['show'], { NODE_CONFIG_DIR: configDir, NODE_ENV: 'staging', NODE_CONFIG: nodeConfig });
      expect(shown(exit)).to.deep.equal({
        greeting: 'from NODE_CONFIG',
        greetingFrom: '$NODE_CONFIG',
        db: { url: 'postgres://db', pool: 10 },
        logLevel: 'debug',
      });
    });

    it('applies a log level from a config file from the first log line on', async () => {
      const configDir = configFiles({ 'default.json': { dionysus: { log: { level: 'warn' } } } });
      const exit = await runApp(['plain'], { NODE_CONFIG_DIR: configDir });
      expect(exit.code, exit.stderr).to.equal(0);
      expect(shown(exit).logLevel).to.equal('warn');
      // The logger starts before the config step; its own line and the config step's wait for the level.
      const lines = logLines(`${exit.stdout}\n${exit.stderr}`);
      expect(lines.filter((line) => line.level === 'info').map((line) => line.msg)).to.deep.equal([]);
    });

    it('lets the framework variable LOG_LEVEL override every file and NODE_CONFIG', async () => {
      const configDir = configFiles(layers);
      const exit = await runApp(['show'], {
        NODE_CONFIG_DIR: configDir,
        NODE_ENV: 'staging',
        NODE_CONFIG: nodeConfig,
        LOG_LEVEL: 'trace',
      });
      expect(shown(exit)).to.include({ greeting: 'from NODE_CONFIG', logLevel: 'trace' });
    });

    describe('ADMIN_PORT over dionysus.admin.port', () => {
      let taken: Server;
      let takenPort: number;

      beforeEach(async () => {
        taken = createServer();
        await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
        takenPort = (taken.address() as { port: number }).port;
      });

      afterEach(async () => {
        await new Promise<void>((resolve) => taken.close(() => resolve()));
      });

      const adminConfig = (): string => JSON.stringify({ dionysus: { admin: { host: '127.0.0.1', port: takenPort } } });

      it('binds the configured port when no variable is set (here: one in use, so it fails naming it)', async () => {
        const exit = await runApp(['ctl'], { NODE_CONFIG: adminConfig() });
        expect(exit.code).to.equal(1);
        expect(exit.stderr).to.include('framework.metrics').and.include(`127.0.0.1:${takenPort}`);
        expect(exit.stderr).to.include('EADDRINUSE');
      });

      it('binds ADMIN_PORT instead when it is set', async () => {
        const child = node(APP, ['ctl'], {
          cwd: dir,
          env: { ...withoutShellConfig(), NODE_CONFIG: adminConfig(), ADMIN_PORT: '0' },
        });
        const line = await waitForLog(child, (l) => l.msg.startsWith('admin server listening'), 'the admin line');
        const admin = line.admin as { host: string; port: number };
        expect(admin.host).to.equal('127.0.0.1');
        expect(admin.port).to.be.above(0).and.not.equal(takenPort);
        expect((await child.waitForExit()).code).to.equal(0);
      });
    });
  });

  describe('validation, before any PreRun hook', () => {
    const cases: {
      what: string;
      files?: Record<string, unknown>;
      env?: Record<string, string>;
      problem: string | RegExp;
    }[] = [
      {
        what: 'a wrong type in config/default.json',
        files: { 'default.json': { dionysus: { http: { port: 'abc' } } } },
        problem: `dionysus.http.port: "abc" is not a port number (0-65535) (from ${join('config', 'default.json')})`,
      },
      {
        what: 'an out-of-range port in config/{NODE_ENV}.json',
        files: { 'default.json': {}, 'production.json': { dionysus: { grpc: { port: 70000 } } } },
        env: { NODE_ENV: 'production' },
        problem: `dionysus.grpc.port: 70000 is not a port number (0-65535) (from ${join('config', 'production.json')})`,
      },
      {
        what: 'an out-of-range port in NODE_CONFIG',
        env: { NODE_CONFIG: '{"dionysus":{"admin":{"port":70000}}}' },
        problem: 'dionysus.admin.port: 70000 is not a port number (0-65535) (from $NODE_CONFIG)',
      },
      {
        what: 'a wrong type deeper in a section',
        env: { NODE_CONFIG: '{"dionysus":{"shutdown":{"timeoutMs":"soon"}}}' },
        problem: 'dionysus.shutdown.timeoutMs: "soon" is not a positive number of milliseconds (from $NODE_CONFIG)',
      },
      {
        what: 'an unknown framework key',
        files: { 'default.json': { dionysus: { htp: { port: 8080 } } } },
        problem:
          /^dionysus\.htp: \{"port":8080\} is not a framework key \(known here: http, grpc, admin, log, [a-zA-Z, ]+\) \(from config[\\/]default\.json\)$/,
      },
      {
        what: 'a negative log flush interval',
        env: { NODE_CONFIG: '{"dionysus":{"log":{"flushIntervalMs":-5}}}' },
        problem: 'dionysus.log.flushIntervalMs: -5 is not a number of milliseconds (0 or more) (from $NODE_CONFIG)',
      },
      {
        what: 'a NODE_CONFIG that is not valid JSON, which node-config would drop with a warning',
        env: { NODE_CONFIG: '{"dionysus":{"http":{"controlToken":"s3cret"}}' },
        problem: /^NODE_CONFIG: is not valid JSON \(.+\) \(from the environment\)$/,
      },
      {
        what: 'a NODE_CONFIG that is JSON but not an object',
        env: { NODE_CONFIG: '42' },
        problem:
          'NODE_CONFIG: is JSON but a number, not an object like {"dionysus":{"http":{"port":8080}}} (from the environment)',
      },
      {
        what: 'a NODE_CONFIG that is a JSON array',
        env: { NODE_CONFIG: '[{"dionysus":{}}]' },
        problem:
          'NODE_CONFIG: is JSON but an array, not an object like {"dionysus":{"http":{"port":8080}}} (from the environment)',
      },
      {
        what: 'a hook timeout longer than a timer can wait (it would fire after 1 ms)',
        env: { NODE_CONFIG: '{"dionysus":{"hooks":{"timeoutMs":3000000000}}}' },
        problem:
          'dionysus.hooks.timeoutMs: 3000000000 is longer than 2147483647 ms (about 24.8 days), the longest a timer can wait (from $NODE_CONFIG)',
      },
      {
        what: 'a heartbeat interval longer than a timer can wait (it would spin)',
        env: { NODE_CONFIG: '{"dionysus":{"health":{"heartbeatIntervalMs":2147483648}}}' },
        problem:
          'dionysus.health.heartbeatIntervalMs: 2147483648 is longer than 2147483647 ms (about 24.8 days), the longest a timer can wait (from $NODE_CONFIG)',
      },
      {
        what: 'a drain delay not shorter than the shutdown budget (every stop would exit 1)',
        env: { NODE_CONFIG: '{"dionysus":{"shutdown":{"drainDelayMs":5000,"timeoutMs":5000}}}' },
        problem:
          'dionysus.shutdown.drainDelayMs (5000 ms) leaves no time to drain within dionysus.shutdown.timeoutMs (5000 ms); the budget includes the delay, so raise the budget or shorten the delay (drainDelayMs from $NODE_CONFIG, timeoutMs from $NODE_CONFIG)',
      },
      {
        what: 'a drain delay from the file against the default budget',
        files: { 'default.json': { dionysus: { shutdown: { drainDelayMs: 30000 } } } },
        problem: `dionysus.shutdown.drainDelayMs (30000 ms) leaves no time to drain within dionysus.shutdown.timeoutMs (25000 ms); the budget includes the delay, so raise the budget or shorten the delay (drainDelayMs from ${join('config', 'default.json')}, timeoutMs from the defaults)`,
      },
      {
        what: 'a headers timeout longer than the request timeout (node:http refuses it)',
        env: { NODE_CONFIG: '{"dionysus":{"http":{"headersTimeoutMs":5000,"requestTimeoutMs":1000}}}' },
        problem:
          'dionysus.http.headersTimeoutMs (5000 ms) is longer than dionysus.http.requestTimeoutMs (1000 ms), which includes the headers; shorten it or raise requestTimeoutMs (headersTimeoutMs from $NODE_CONFIG, requestTimeoutMs from $NODE_CONFIG)',
      },
      {
        what: 'a bad LOG_LEVEL',
        env: { LOG_LEVEL: 'loud' },
        problem:
          'LOG_LEVEL: "loud" is not a log level (fatal, error, warn, info, debug, trace, silent) (from the environment)',
      },
      {
        what: 'an HTTP_PORT that is not a number',
        env: { HTTP_PORT: '80a' },
        problem: 'HTTP_PORT: "80a" is not a port number (0-65535) (from the environment)',
      },
      {
        what: 'an HTTP_PORT out of range',
        env: { HTTP_PORT: '70000' },
        problem: 'HTTP_PORT: "70000" is not a port number (0-65535) (from the environment)',
      },
    ];

    for (const { what, files, env, problem } of cases) {
      it(`fails with exit 1 on ${what}, naming the key, the value and where it came from`, async () => {
        const configDir = configFiles(files ?? {});
        const exit = await runApp(['plain'], { NODE_CONFIG_DIR: configDir, ...env });
        expect(exit.code).to.equal(1);
        expect(exit.lines, 'no PreRun hook ran').to.deep.equal([]);
        // A task logs to stderr: the report is what remains without the JSON log lines.
        expect(exit.errorText).to.match(
          /^config-app plain: framework\.config failed in framework: invalid configuration:\n/,
        );
        const reported = problems(exit.stderr);
        expect(reported).to.have.length(1);
        if (typeof problem === 'string') expect(reported[0]).to.equal(problem);
        else expect(reported[0]).to.match(problem);
        expect(stackLines(exit.stderr)).to.deep.equal([]);
        // Only the framework's message: node-config prints no warning of its own.
        expect(exit.stderr).to.not.match(/malformed|WARNING/);
      });
    }

    it('reports every problem at once, and logs the failure at error level', async () => {
      const configDir = configFiles({
        'default.json': { dionysus: { http: { port: 'abc' }, htp: {} } },
        'production.json': { dionysus: { log: { level: 'loud' } } },
      });
      const exit = await runApp(['plain'], {
        NODE_CONFIG_DIR: configDir,
        NODE_ENV: 'production',
        NODE_CONFIG: '{"dionysus":{"admin":{"port":-1}}}',
        GRPC_PORT: 'x',
      });
      expect(exit.code).to.equal(1);
      expect(problems(exit.stderr).map((p) => p.split(':', 1)[0])).to.have.members([
        'dionysus.http.port',
        'dionysus.htp',
        'dionysus.log.level',
        'dionysus.admin.port',
        'GRPC_PORT',
      ]);
      const failed = hookLines(logLines(exit.stderr)).find((line) => line.hook === 'framework.config');
      expect(failed).to.include({ level: 'error', outcome: 'failed', phase: 'framework' });
      expect(failed?.msg).to.include('dionysus.htp');
    });

    it('says each problem once per message: on stderr and in each log line', async () => {
      const exit = await runApp(['plain'], { NODE_CONFIG: '{"dionysus":{"admin":{"port":70000}}}' });
      expect(exit.code).to.equal(1);
      const problem = 'dionysus.admin.port: 70000 is not a port number (0-65535) (from $NODE_CONFIG)';
      // A task logs to stderr: the report is what remains without the JSON log lines.
      expect(exit.errorText.split(problem)).to.have.length(2);
      const records = logLines(`${exit.stdout}\n${exit.stderr}`);
      const failed = hookLines(records).find((line) => line.hook === 'framework.config');
      expect(failed?.msg).to.include(problem);
      for (const record of records) {
        expect(JSON.stringify(record).split('dionysus.admin.port'), JSON.stringify(record)).to.have.length.at.most(2);
      }
      // The framework's own message says what is wrong: no stack of framework frames.
      expect(failed?.err).to.not.have.property('stack');
    });

    it('names a config file outside the working directory by its absolute path', async () => {
      const configDir = configFiles({ 'default.json': { dionysus: { admin: { port: 'x' } } } });
      const elsewhere = mkdtempSync(join(tmpdir(), 'dionysus-cwd-'));
      try {
        const exit = await runApp(['plain'], { NODE_CONFIG_DIR: configDir }, elsewhere);
        expect(problems(exit.stderr)).to.deep.equal([
          `dionysus.admin.port: "x" is not a port number (0-65535) (from ${join(configDir, 'default.json')})`,
        ]);
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });
  });

  describe('an app without a config folder', () => {
    it('runs on the defaults and prints no warning', async () => {
      // `dir` is empty: no config/ and no NODE_CONFIG_DIR.
      const exit = await runApp(['plain']);
      expect(exit.code).to.equal(0);
      expect(exit.errorText).to.equal('');
      expect(exit.lines).to.deep.equal(['main prerun', 'config {"hasGreeting":false,"logLevel":"info"}']);
      const levels = logLines(exit.stderr).map((line) => line.level);
      expect(levels).to.not.include.members(['warn', 'error', 'fatal']);
      expect(exit.stderr).to.not.match(/warning/i);
    });
  });

  describe('user keys for user classes', () => {
    it('injects a value and a section with @InjectConfig, and AppConfig says where a key came from', async () => {
      const configDir = configFiles({ 'default.json': { greeting: 'hi', db: { url: 'postgres://db', pool: 1 } } });
      const exit = await runApp(['show'], { NODE_CONFIG_DIR: configDir });
      expect(exit.code, exit.stderr).to.equal(0);
      expect(shown(exit)).to.deep.equal({
        greeting: 'hi',
        greetingFrom: join('config', 'default.json'),
        db: { url: 'postgres://db', pool: 1 },
        logLevel: 'info',
      });
    });

    it('fails naming the key when an injected key is not set', async () => {
      const configDir = configFiles({ 'default.json': { db: { url: 'postgres://db', pool: 1 } } });
      const exit = await runApp(['show'], { NODE_CONFIG_DIR: configDir });
      expect(exit.code).to.equal(1);
      expect(exit.stderr).to.include("config key 'greeting' is not set");
      expect(exit.lines.filter((line) => line.startsWith('config '))).to.deep.equal([]);
    });
  });
});
