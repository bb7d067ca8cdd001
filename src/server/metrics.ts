/**
 * The server's Prometheus metrics, in a registry of its own (made per server: no module
 * globals): request latency by route pattern (the router's, never the raw path, so job ids do
 * not become labels) and status class, event-stream clients, and whether the supervisor's
 * metrics could be had at the last scrape. Its process metrics are prefixed `jobvisor_server_`.
 */
import type { Context, Next } from 'koa';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export interface ServerMetricSources {
  /** Event streams (`GET /api/events`) open now. */
  eventClients(): number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Histogram<'method' | 'route' | 'status'>;
  private readonly supervisorUp: Gauge;
  private sources: ServerMetricSources | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'jobvisor_server_' });
    this.requests = new Histogram({
      name: 'jobvisor_http_request_duration_seconds',
      help: 'Seconds the server took to answer a request (to its headers, for streams), by method, route pattern and status class.',
      labelNames: ['method', 'route', 'status'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    const sources = () => this.sources;
    new Gauge({
      name: 'jobvisor_event_stream_clients', help: 'Event streams (GET /api/events) open now.', registers,
      collect() {
        this.set(sources()?.eventClients() ?? 0);
      },
    });
    this.supervisorUp = new Gauge({ name: 'jobvisor_supervisor_up', help: '1 when the server could read the supervisor\'s metrics at this scrape (they follow), else 0.', registers });
  }

  bind(sources: ServerMetricSources): void {
    this.sources = sources;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The server's own metrics, saying whether the supervisor's could be had. */
  text(supervisorUp: boolean): Promise<string> {
    this.supervisorUp.set(supervisorUp ? 1 : 0);
    return this.registry.metrics();
  }

  /** Middleware (outside the error handler, so it sees the final status): observes every request. */
  middleware() {
    const requests = this.requests;
    return async function observeRequest(ctx: Context, next: Next): Promise<void> {
      const started = performance.now();
      try {
        await next();
      } finally {
        const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? (ctx.status === 404 ? '(unmatched)' : '(gui)');
        requests.observe({ method: ctx.method, route, status: STATUS_CLASSES[Math.floor(ctx.status / 100)] ?? 'other' }, (performance.now() - started) / 1000);
      }
    };
  }
}
