import { ProxyTracerProvider, trace } from '@opentelemetry/api';

/** What the API answers with while no provider is set (the delegate of a fresh ProxyTracerProvider). */
const NOOP_PROVIDER = (new ProxyTracerProvider() as { getDelegate(): unknown }).getDelegate();

/**
 * Whether a tracer provider is set. Without one every span is the API's no-op, so an
 * integration on a hot path (a query, a Redis command) skips building its name and attributes.
 * Asked per span: a provider set (or replaced) later still applies.
 */
export function tracerProviderSet(): boolean {
  const provider = trace.getTracerProvider() as { getDelegate?: () => unknown };
  return (provider.getDelegate ? provider.getDelegate() : provider) !== NOOP_PROVIDER;
}
