// The forward-compatibility rule of the agent-facing routes (heartbeat, an agent's PUT, results): a top-level
// field the DTO does not declare is ignored and counted (a newer agent may add fields; the original agent adds
// `scan_id`, `client_id`, `scan_duration`, `timestamp` that no seed documents), never a 400. Routes that people
// call keep refusing unknown fields. Nested objects are validated as their DTO says.
import { Injectable, Type } from '@nestjs/common';
import { Metrics } from '@nso/monitoring';
import { getMetadataStorage } from 'class-validator';
import { Counter } from 'prom-client';
import { ApiValidationPipe } from '../common/validation';

/** The agent routes, as the metric's `route` label names them. */
export type AgentRoute = 'heartbeat' | 'update' | 'results';

/** The top-level property names a DTO class declares (the ones class-validator's whitelist keeps). */
export function declaredFields(dto: Type<unknown>): Set<string> {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  return new Set(metadata.map((m) => m.propertyName));
}

/**
 * Splits a parsed body into the fields `dto` declares and the names of the others. A body that is not a JSON
 * object is returned as it is (validation names the problem).
 */
export function splitAgentFields(
  body: unknown,
  declared: ReadonlySet<string>,
): { known: unknown; ignored: string[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { known: body, ignored: [] };
  const known: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (declared.has(key)) known[key] = value;
    else ignored.push(key);
  }
  return { known, ignored };
}

/**
 * `nso_agent_fields_ignored_total{route}`: top-level fields agents sent that this server does not know, on the
 * registry of the gateway's Metrics (docs/monitoring.md). The field names are not labels: anyone can invent them.
 */
@Injectable()
export class AgentFieldsMetric {
  private readonly ignored: Counter<'route'>;

  constructor(metrics: Metrics) {
    const name = 'nso_agent_fields_ignored_total';
    this.ignored =
      (metrics.registry.getSingleMetric(name) as Counter<'route'> | undefined) ??
      new Counter({
        name,
        help: 'Top-level fields of agent requests (heartbeat, update, results) this server does not know: ignored',
        labelNames: ['route'] as const,
        registers: [metrics.registry],
      });
    for (const route of ['heartbeat', 'update', 'results']) this.ignored.inc({ route }, 0);
  }

  count(route: AgentRoute, fields: number): void {
    if (fields > 0) this.ignored.inc({ route }, fields);
  }
}

const strictPipe = new ApiValidationPipe();

/**
 * Validates an agent's body against `dto` after dropping (and counting) the top-level fields it does not
 * declare; the result is the DTO instance, or the same 400 bodies as every other route.
 */
export async function validateAgentBody<T>(
  dto: Type<T>,
  body: unknown,
  route: AgentRoute,
  metric: AgentFieldsMetric,
): Promise<T> {
  const { known, ignored } = splitAgentFields(body, declaredFields(dto));
  metric.count(route, ignored.length);
  return (await strictPipe.transform(known, { type: 'body', metatype: dto, data: '' })) as T;
}
