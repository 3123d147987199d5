import { createHash } from 'node:crypto';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { type DocumentNode, GraphQLError, type GraphQLSchema, Kind, parse, validate } from 'graphql';
import type { ErrorCode } from '../../lib/errors';
import { type OperationLimits, operationShape, shapeViolation, tokenLimitCode } from '../operation-limits';

export type CheckedDocument = { document: DocumentNode } | { errors: readonly GraphQLError[] };

export interface DocumentCheckOptions {
  /** The HTTP endpoint's limits: the parser's token limit, then depth, aliases and root fields. */
  limits: OperationLimits;
  /** Approximate bytes of checked documents kept (JSON size, as Apollo's own document store counts them). */
  cacheBytes: number;
  /** No "Did you mean ...?" suggestions in validation errors (they reveal the schema). */
  hideSuggestions: boolean;
}

export interface DocumentChecker {
  /** Parses, validates and limit-checks a subscribe's query text once per schema; errors carry their codes. */
  check(query: string): Promise<CheckedDocument>;
  /** What the cache holds now (for metrics and tests). */
  cached(): { entries: number; bytes: number };
}

const errorsOf = (code: ErrorCode, errors: readonly GraphQLError[]): CheckedDocument => ({
  errors: errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code: (e.extensions['code'] as string | undefined) ?? code } })),
});

function checkUncached(schema: GraphQLSchema, query: string, opts: DocumentCheckOptions): CheckedDocument {
  let document: DocumentNode;
  try {
    // The token limit bounds the parser's work and the AST it builds, as on HTTP.
    document = parse(query, { maxTokens: opts.limits.maxTokens });
  } catch (err) {
    const message = err instanceof Error ? err.message : 'Syntax error';
    return { errors: [new GraphQLError(message, { extensions: { code: tokenLimitCode(message) ?? ('GRAPHQL_PARSE_FAILED' satisfies ErrorCode) } })] };
  }
  let invalid: readonly GraphQLError[];
  try {
    invalid = validate(schema, document, undefined, { hideSuggestions: opts.hideSuggestions });
  } catch (err) {
    // graphql-js 16's single-root-field rule collects fields without variables and throws on a directive that uses
    // one (`... @include(if: $y)`); that document cannot be checked, so it is refused like an invalid one.
    if (!(err instanceof GraphQLError)) throw err;
    invalid = [err];
  }
  if (invalid.length) return errorsOf('GRAPHQL_VALIDATION_FAILED', invalid);
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const violation = shapeViolation(operationShape(document, definition), opts.limits);
    if (violation) return { errors: [violation] };
  }
  return { document };
}

/**
 * Dashboards open thousands of identical subscriptions, so each query text is checked once per schema. The cache is
 * keyed by the text's SHA-256 (a key never holds the text) and bounded in bytes, not entries: a thousand entries of
 * a megabyte each was room enough to exhaust the heap.
 */
export function documentChecker(schema: GraphQLSchema, opts: DocumentCheckOptions): DocumentChecker {
  let bytes = 0;
  const cache = new InMemoryLRUCache<{ checked: CheckedDocument; bytes: number }>({
    maxSize: opts.cacheBytes,
    sizeCalculation: (entry) => entry.bytes,
    dispose: (entry: { bytes: number }) => void (bytes -= entry.bytes),
  });
  return {
    cached: () => ({ entries: cache.keys().length, bytes }),
    async check(query) {
      const key = createHash('sha256').update(query).digest('hex');
      const hit = await cache.get(key);
      if (hit) return hit.checked;
      const checked = checkUncached(schema, query, opts);
      const size = key.length + Buffer.byteLength(JSON.stringify('document' in checked ? checked.document : checked.errors));
      // An entry above the whole budget is not kept (lru-cache would refuse it anyway).
      if (size <= opts.cacheBytes) {
        await cache.set(key, { checked, bytes: size });
        bytes += size;
      }
      return checked;
    },
  };
}
