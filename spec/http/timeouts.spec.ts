import { connect } from 'node:net';
import { expect } from 'chai';
import { startServer, type TestServer } from 'dionysus/testing';
import { UsersApp } from './users-app.js';

/**
 * Writes `data` on a new connection and resolves with what the server sent
 * until it closed the connection, and how long that took; rejects past `deadlineMs`.
 */
function sendAndWaitForClose(port: number, data: string, deadlineMs: number): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${deadlineMs} ms`));
    }, deadlineMs);
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, ms: performance.now() - started });
    });
  });
}

// Node checks these timeouts every connectionsCheckingInterval (30 s by default): a short one fired up to 30 s late.
describe('http: short headers and request timeouts fire within about a second of their setting', () => {
  let server: TestServer;

  beforeEach(async () => {
    server = await startServer(UsersApp, 'http', {
      settings: { http: { headersTimeoutMs: 200, requestTimeoutMs: 400 } },
    });
  });

  afterEach(() => server.stop());

  it('answers 408 to a client that never finishes its headers', async () => {
    const { answer, ms } = await sendAndWaitForClose(server.port, 'GET /users HTTP/1.1\r\nHost: x\r\n', 3_000);
    expect(answer).to.match(/^HTTP\/1\.1 408 /);
    expect(ms).to.be.within(150, 1_700);
  });

  it('answers 408 to a client that never finishes its body', async () => {
    const head = 'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{';
    const { answer, ms } = await sendAndWaitForClose(server.port, head, 3_000);
    expect(answer).to.match(/^HTTP\/1\.1 408 /);
    expect(ms).to.be.within(350, 1_900);
  });
});
