import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** One registry per process (or per test app), so two apps in one test never share counters. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Returns the counter already registered under this name, or registers it. */
export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(
  registry: Registry,
  name: string,
  help: string,
  collect: (gauge: Gauge) => Promise<void>,
  labelNames: string[] = [],
): Gauge {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge;
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      await collect(this);
    },
  });
}
