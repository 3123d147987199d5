import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR_CORRELATION_ID, type Tracing, startTracing } from '../lib/telemetry/tracing';
import { type TestStack, startTestStack } from './support/stack';
import { waitForSync } from './support/wait';

describe('one trace from the client request to each downstream write', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let stack: TestStack;
  beforeAll(async () => {
    // Before the stack: the database layer and the resolvers are wrapped when they are built.
    tracing = startTracing({ service: 'test', exporter });
    stack = await startTestStack({ accounts: 2 });
  });
  afterAll(async () => {
    await stack.stop();
    await tracing.shutdown();
  });

  it('continues the client traceparent through gateway, subgraph, SQL, outbox, both jobs and their writes, with the correlation id on every span', async () => {
    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    const correlationId = `trace-test-${randomBytes(4).toString('hex')}`;
    const res = await stack.gql<{ createAccount: { id: string } }>(
      'mutation Onboard($n: String!) { createAccount(input: { name: $n, billingAddress: { line1: "1 Rue", city: "Paris", country: "FR" } }) { id } }',
      { n: 'Traced SAS' },
      { headers: { traceparent: `00-${traceId}-${clientSpanId}-01`, 'x-correlation-id': correlationId } },
    );
    expect(res.body.errors).toBeUndefined();
    const id = res.body.data?.createAccount.id ?? '';

    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const writesDone = (spans: ReadableSpan[]) =>
      ['system ERP.upsertCustomer', 'system BILLING.upsertCustomer'].every((n) => spans.some((s) => s.name === n)) &&
      spans.filter((s) => s.name === 'sync.job ACCOUNT_UPSERT').length === 2;
    // Job spans end before the worker relays their SUCCEEDED event, which re-runs this check.
    const spans = await waitForSync(stack, 'acme', async () => (writesDone(inTrace()) ? inTrace() : null));

    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan) => byId.get(s.parentSpanContext?.spanId ?? '');
    const one = (predicate: (s: ReadableSpan) => boolean, what: string) => {
      const found = spans.filter(predicate);
      if (found.length === 0) throw new Error(`no ${what} span in the trace: ${spans.map((s) => s.name).join(', ')}`);
      return found;
    };

    const [gatewayRequest] = one((s) => s.name === 'POST /graphql' && s.attributes['sor.service'] === 'gateway', 'gateway request');
    expect(gatewayRequest?.parentSpanContext?.spanId).toBe(clientSpanId);
    expect(gatewayRequest?.attributes['graphql.operation.name']).toBe('Onboard');
    one((s) => s.name === 'graphql.parse', 'parse');
    one((s) => s.name === 'gateway.plan', 'plan');
    const fetches = one((s) => s.name === 'gateway.fetch', 'subgraph fetch');
    const [subgraphRequest] = one((s) => s.name === 'POST /graphql' && s.attributes['sor.service'] === 'crm', 'crm subgraph');
    expect(fetches.map((f) => f.spanContext().spanId)).toContain(subgraphRequest?.parentSpanContext?.spanId);
    const [resolver] = one((s) => s.name === 'resolve Mutation.createAccount', 'resolver');
    expect(parentOf(resolver as ReadableSpan)).toBe(subgraphRequest);
    const sql = one((s) => s.name.startsWith('db ') && typeof s.attributes['db.query.text'] === 'string', 'SQL');
    expect(sql.some((s) => /INSERT INTO crm\.accounts/.test(String(s.attributes['db.query.text'])))).toBe(true);
    const enqueues = one((s) => s.name === 'sync.outbox enqueue', 'outbox write');
    const jobs = one((s) => s.name === 'sync.job ACCOUNT_UPSERT', 'job');
    for (const job of jobs) {
      // Child of the enqueue that stored its traceparent, and linked to it.
      const enqueue = parentOf(job);
      expect(enqueues).toContain(enqueue);
      expect(job.links.map((l) => l.context.spanId)).toEqual([enqueue?.spanContext().spanId]);
      expect(job.attributes['sor.job.id']).toEqual(expect.any(String));
    }
    expect(jobs.map((j) => j.attributes['sor.job.target']).sort()).toEqual(['BILLING', 'ERP']);
    for (const system of ['ERP', 'BILLING']) {
      const [write] = one((s) => s.name === `system ${system}.upsertCustomer`, `${system} write`);
      expect(jobs).toContain(parentOf(write as ReadableSpan));
    }

    const without = spans.filter((s) => s.attributes[ATTR_CORRELATION_ID] !== correlationId);
    expect(without.map((s) => s.name)).toEqual([]);
    expect(spans.length).toBeGreaterThan(15);
    // The account the trace is about exists in both target systems.
    expect(await stack.db.query('SELECT 1 FROM erp.customers WHERE id = $1', [id])).toHaveLength(1);
  });
});
