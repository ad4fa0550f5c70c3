import { execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** The machine's PostgreSQL (trust auth); specs make their own database in it and drop it after. */
export const SHARED_PG = 'postgres://postgres@127.0.0.1:5432/test';

/** Makes a uniquely named database on the shared server; returns its URL and a drop function. */
export async function scratchDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `dionysus_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(SHARED_PG, `create database ${name}`);
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: async () => void (await admin(SHARED_PG, `drop database if exists ${name} with (force)`)),
  };
}

/** Runs one statement on its own connection. */
export async function admin(url: string, statement: string): Promise<unknown[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statement)).rows;
  } finally {
    await client.end();
  }
}

/** Connections of an application_name, as the server counts them. */
export async function connectionsOf(url: string, applicationName: string): Promise<number> {
  const rows = (await admin(
    url,
    `select count(*)::int as n from pg_stat_activity where application_name = '${applicationName}'`,
  )) as { n: number }[];
  return rows[0]?.n ?? 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A PostgreSQL cluster of a spec's own (initdb in a temp dir, run as the
 * `postgres` OS user on an ephemeral port), to kill and start again for
 * faults without touching the shared server.
 */
export class PrivatePostgres {
  readonly dir: string;
  readonly port: number;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  static async create(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'pg-'));
    chownSync(dir, uid('postgres'), gid('postgres'));
    execFileSync(
      'runuser',
      ['-u', 'postgres', '--', 'initdb', '-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres'],
      {
        stdio: 'ignore',
      },
    );
    const pg = new PrivatePostgres(dir, await freePort());
    await pg.start();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    const args = [
      '-D',
      join(this.dir, 'data'),
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
    ];
    const log = openSync(join(this.dir, 'server.log'), 'a');
    // Started directly as the postgres user (not through su/runuser, which stop themselves when their child is stopped).
    spawn('postgres', args, { stdio: ['ignore', log, log], ...asPostgres() });
    closeSync(log);
    for (let i = 0; i < 200; i++) {
      try {
        await admin(this.url, 'select 1');
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const tail = readFileSync(join(this.dir, 'server.log'), 'utf8').split('\n').slice(-5).join('\n');
    throw new Error(`private PostgreSQL on port ${this.port} did not start:\n${tail}`);
  }

  /** Kills the server and its backends at once, as a crash would; resolves once they are gone. */
  async kill(): Promise<void> {
    await this.crash();
  }

  /** SIGKILLs the server and its backends; the returned promise resolves once they are gone. */
  crash(): Promise<void> {
    const pids = this.#pids();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    // A new postmaster refuses to start while a killed one's processes still hold its shared memory.
    return (async () => {
      for (let i = 0; i < 400 && pids.some(alive); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    })();
  }

  /** Freezes every process of the cluster: the server holds its sockets and answers nothing. */
  signalAll(signal: 'STOP' | 'CONT'): void {
    for (const pid of this.#pids()) {
      try {
        process.kill(pid, `SIG${signal}`);
      } catch {
        // gone already
      }
    }
  }

  /** The postmaster (from its pid file) and its backends. */
  #pids(): number[] {
    let postmaster: number;
    try {
      postmaster = Number(readFileSync(join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return [];
    }
    let children: string[] = [];
    try {
      children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)])
        .toString()
        .trim()
        .split(/\s+/);
    } catch {
      // no children
    }
    return [postmaster, ...children.filter(Boolean).map(Number)];
  }

  async destroy(): Promise<void> {
    try {
      this.signalAll('CONT');
    } catch {
      // not running
    }
    await this.kill().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Running, not a zombie waiting for its parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Spawn options that run a program as the `postgres` OS user. */
function asPostgres(): { uid: number; gid: number; cwd: string } {
  return { uid: uid('postgres'), gid: gid('postgres'), cwd: '/' };
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}

function gid(user: string): number {
  return Number(execFileSync('id', ['-g', user]).toString().trim());
}
