import { expect } from 'chai';
import { FakeClock } from 'dionysus/testing';
import { Registry } from 'prom-client';
import { AdminServer } from '../../lib/telemetry/admin.js';

/** A registry that counts its renders; each render takes until `release` is called. */
class CountingRegistry extends Registry {
  renders = 0;
  #pending: (() => void)[] = [];

  override metrics(): Promise<string> {
    this.renders++;
    const n = this.renders;
    return new Promise((resolve) => this.#pending.push(() => resolve(`# render ${n}\n`)));
  }

  release(): void {
    for (const done of this.#pending.splice(0)) done();
  }
}

describe('the admin server under a scrape flood', () => {
  let admin: AdminServer | undefined;
  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  async function serve(registry: Registry, clock: FakeClock, minIntervalMs = 1_000): Promise<string> {
    admin = new AdminServer(registry, { minIntervalMs, now: () => clock.now() });
    await admin.listen(0, '127.0.0.1');
    return `http://127.0.0.1:${admin.port}/metrics`;
  }

  it('renders the registry once for 20 concurrent scrapes, and serves that render until the interval passes', async () => {
    const registry = new CountingRegistry();
    const clock = new FakeClock();
    const url = await serve(registry, clock);
    const scrapes = Array.from({ length: 20 }, () => fetch(url).then((res) => res.text()));
    await new Promise((resolve) => setTimeout(resolve, 200)); // every request has arrived
    registry.release();
    expect(await Promise.all(scrapes)).to.deep.equal(Array(20).fill('# render 1\n'));
    expect(registry.renders).to.equal(1);

    await clock.advance(999);
    expect(await (await fetch(url)).text(), 'within the interval').to.equal('# render 1\n');
    expect(registry.renders).to.equal(1);

    await clock.advance(1);
    const next = fetch(url).then((res) => res.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    registry.release();
    expect(await next).to.equal('# render 2\n');
    expect(registry.renders).to.equal(2);
  });

  it('with minIntervalMs 0, renders for each scrape but still shares a render in progress', async () => {
    const registry = new CountingRegistry();
    const clock = new FakeClock();
    const url = await serve(registry, clock, 0);
    const both = [fetch(url), fetch(url)].map((p) => p.then((res) => res.text()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    registry.release();
    expect(await Promise.all(both)).to.deep.equal(['# render 1\n', '# render 1\n']);
    const again = fetch(url).then((res) => res.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    registry.release();
    expect(await again).to.equal('# render 2\n');
  });
});
