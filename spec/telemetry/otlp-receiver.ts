import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ROOT } from '../integration/child.js';

/** An OTLP attribute value as the JSON encoding writes it (and the protobuf one decodes to, camelCased). */
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
  /** Hex in JSON, bytes in protobuf. */
  traceId: string | Buffer;
  spanId: string | Buffer;
  parentSpanId?: string | Buffer;
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
  /** How it arrived: OTLP/HTTP JSON, OTLP/HTTP protobuf, OTLP/gRPC. */
  readonly encoding: 'json' | 'protobuf' | 'grpc';
  readonly body: ExportTraceServiceRequest;
}

const TRACE_SERVICE = 'opentelemetry.proto.collector.trace.v1.TraceService';

/** The OTLP trace service, from the subset of opentelemetry-proto in otlp-trace.proto. */
const service = (() => {
  let definition: grpc.ServiceDefinition | undefined;
  return (): grpc.ServiceDefinition => {
    definition ??= loadSync(join(ROOT, 'spec', 'telemetry', 'otlp-trace.proto'), {
      longs: Number,
      defaults: false,
    })[TRACE_SERVICE] as grpc.ServiceDefinition;
    return definition;
  };
})();

const decodeExport = (raw: Buffer): ExportTraceServiceRequest =>
  (service().Export as grpc.MethodDefinition<ExportTraceServiceRequest, object>).requestDeserialize(raw);

/**
 * A minimal OTLP/HTTP trace receiver on loopback: accepts `POST /v1/traces`
 * with a protobuf body (`application/x-protobuf`, the SDK's default protocol
 * http/protobuf) or a JSON one (`application/json`, http/json) and answers
 * 200 with an empty export response. Anything else is answered 404 / 415 and
 * remembered as a mistake.
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
        const type = String(req.headers['content-type']);
        const encoding = type.startsWith('application/json')
          ? 'json'
          : type.startsWith('application/x-protobuf')
            ? 'protobuf'
            : undefined;
        if (!encoding) {
          this.mistakes.push(`content-type ${req.headers['content-type']}`);
          res.writeHead(415).end();
          return;
        }
        const compressed = Buffer.concat(chunks);
        const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(compressed) : compressed;
        const body =
          encoding === 'json' ? (JSON.parse(raw.toString('utf8')) as ExportTraceServiceRequest) : decodeExport(raw);
        this.requests.push({ path, headers: req.headers, encoding, body });
        // An empty ExportTraceServiceResponse, in the request's encoding.
        res.writeHead(200, { 'content-type': type }).end(encoding === 'json' ? '{}' : '');
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
            traceId: hex(span.traceId) as string,
            spanId: hex(span.spanId) as string,
            parentSpanId: hex(span.parentSpanId),
            statusCode: span.status?.code ?? 0,
            attributes: attributesOf(span.attributes),
            resource,
          })),
        );
      }),
    );
  }
}

/**
 * The same receiver over OTLP/gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`): the
 * TraceService/Export method on an insecure HTTP/2 port of loopback.
 */
export class OtlpGrpcReceiver extends OtlpReceiver {
  #server: grpc.Server | undefined;

  override async start(): Promise<string> {
    const server = new grpc.Server();
    server.addService(service(), {
      Export: (call: grpc.ServerUnaryCall<ExportTraceServiceRequest, object>, done: grpc.sendUnaryData<object>) => {
        const headers = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]));
        this.requests.push({ path: call.getPath(), headers, encoding: 'grpc', body: call.request });
        done(null, {});
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    this.#server = server;
    return `http://127.0.0.1:${port}`;
  }

  override async stop(): Promise<void> {
    this.#server?.forceShutdown();
    this.#server = undefined;
  }
}

/** Ids as lower-case hex whichever encoding carried them; an empty parent is no parent. */
function hex(id: string | Buffer | undefined): string | undefined {
  const text = typeof id === 'string' ? id : id?.toString('hex');
  return text || undefined;
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
