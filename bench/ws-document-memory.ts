/**
 * Heap kept by the subscription document cache when a client sends many distinct large subscribe documents (the
 * item-2 attack of issue 11, minus the socket): the old cache (a Map of up to 1000 entries keyed by the raw text,
 * parse without a token limit) against `documentChecker` (hash keys, byte budget, the HTTP token limit).
 * Run: `node --expose-gc --import tsx bench/ws-document-memory.ts [--documents 200] [--kib 900]`.
 */
import { type DocumentNode, type GraphQLError, buildSchema, parse, validate } from 'graphql';
import { parseCli } from '../lib/cli';
import { DEFAULT_OPERATION_LIMITS } from '../gateway/operation-limits';
import { documentChecker } from '../gateway/subscriptions/documents';
import { DEFAULT_SUBSCRIPTION_LIMITS } from '../gateway/subscriptions/server';
import { intOption } from './support';

const schema = buildSchema('type Query { ok: Boolean } type Subscription { ticks(label: String): Int }');
const { values } = parseCli({
  usage: 'node --expose-gc --import tsx bench/ws-document-memory.ts [options]',
  summary: 'Heap kept by the subscription document cache for many distinct large subscribe documents, old cache vs documentChecker.',
  options: {
    documents: { type: 'string', default: '200', description: 'distinct documents sent', placeholder: 'n' },
    kib: { type: 'string', default: '900', description: 'size of each document, KiB', placeholder: 'n' },
  },
});
const count = intOption('documents', values.documents);
const kib = intOption('kib', values.kib);
const doc = (i: number) => `subscription { ticks(label: "${String(i).padEnd(kib * 1024, 'x')}") }`;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heapMiB = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

// The previous implementation, as it was (gateway/subscriptions/server.ts before issue 11).
const oldCache = new Map<string, { document: DocumentNode } | { errors: readonly GraphQLError[] }>();
const oldCheck = (query: string) => {
  const hit = oldCache.get(query);
  if (hit) return hit;
  const document = parse(query);
  const errors = validate(schema, document);
  const result = errors.length ? { errors } : { document };
  if (oldCache.size >= 1000) oldCache.clear();
  oldCache.set(query, result);
  return result;
};

async function main() {
  const base = heapMiB();
  for (let i = 0; i < count; i++) oldCheck(doc(i));
  const old = heapMiB() - base;
  oldCache.clear();
  const base2 = heapMiB();
  const checker = documentChecker(schema, { limits: DEFAULT_OPERATION_LIMITS, cacheBytes: DEFAULT_SUBSCRIPTION_LIMITS.documentCacheBytes, hideSuggestions: true });
  for (let i = 0; i < count; i++) await checker.check(doc(i));
  const now = heapMiB() - base2;
  console.log(`${count} distinct documents of ${kib} KiB: old cache keeps ${old.toFixed(0)} MiB of heap; hash-keyed cache keeps ${now.toFixed(1)} MiB (${checker.cached().entries} entries, ${(checker.cached().bytes / 2 ** 20).toFixed(1)} MiB counted, budget ${DEFAULT_SUBSCRIPTION_LIMITS.documentCacheBytes / 2 ** 20} MiB)`);
}
void main();
