import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** An OTLP attribute value as the JSON encoding writes it. */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
}

interface ExportTraceServiceRequest {
  resourceSpans: { resource?: { attributes?: KeyValue[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** A received span with its attributes and its resource's attributes as plain records. */
export interface ReceivedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly attributes: Record<string, unknown>;
  readonly resource: Record<string, unknown>;
}

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: ExportTraceServiceRequest;
}

/**
 * A minimal OTLP/HTTP trace receiver on loopback: accepts `POST /v1/traces`
 * with a JSON body (what @opentelemetry/exporter-trace-otlp-http sends, with
 * `Content-Type: application/json`) and answers 200 with an empty export
 * response. Anything else is answered 404 / 415 and remembered as a mistake.
 */
export class OtlpReceiver {
  readonly requests: ReceivedRequest[] = [];
  readonly mistakes: string[] = [];
  #server: Server | undefined;

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '';
        if (req.method !== 'POST' || path !== '/v1/traces') {
          this.mistakes.push(`${req.method} ${path}`);
          res.writeHead(404).end();
          return;
        }
        if (!String(req.headers['content-type']).startsWith('application/json')) {
          this.mistakes.push(`content-type ${req.headers['content-type']}`);
          res.writeHead(415).end();
          return;
        }
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        this.requests.push({ path, headers: req.headers, body: JSON.parse(text) as ExportTraceServiceRequest });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every span received so far, flattened. */
  get spans(): ReceivedSpan[] {
    return this.requests.flatMap(({ body }) =>
      body.resourceSpans.flatMap((resourceSpans) => {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        return resourceSpans.scopeSpans.flatMap(({ spans }) =>
          spans.map((span) => ({
            name: span.name,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            statusCode: span.status?.code ?? 0,
            attributes: attributesOf(span.attributes),
            resource,
          })),
        );
      }),
    );
  }
}

function attributesOf(list: readonly KeyValue[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => [key, plain(value)]));
}

function plain(value: AnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  return value;
}
