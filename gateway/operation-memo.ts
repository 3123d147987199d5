import { type DefinitionNode, Kind } from 'graphql';

/**
 * @apollo/gateway's executeQueryPlan rebuilds the operation in @apollo/federation-internals' own model
 * (`operationFromDocument(apiSchema, { definitions: [operation, ...fragments] }, { validate: false })`) on every
 * request, only to shape the subgraphs' data into the answer: a full tree of Field and SelectionSet objects per
 * request, though the operation is one Apollo Server already parsed, validated and keeps in its document store (the
 * same DocumentNode, hence the same OperationDefinitionNode, for every request of the same text). The gateway only
 * reads that model afterwards (result shaping, `@skip`/`@include` conditions of the plan), so one built per operation
 * node, API schema and fragment set serves every request of it. This wraps `operationFromDocument` for exactly that
 * call (no operation name, `validate: false`); other calls (the planner's) go through unchanged.
 *
 * Installed on the module that defines the function (which the package's re-export getters read, as under jest) and on
 * the plain copy gateway/flatten-reexports.ts leaves in the require cache (which @apollo/gateway holds in production).
 * Must run before the first request; server.ts imports it right after flatten-reexports.
 */
type OperationFromDocument = (schema: object, document: { definitions: readonly DefinitionNode[] }, options?: { operationName?: string; validate?: boolean }) => unknown;

interface Built {
  fragments: readonly DefinitionNode[];
  operation: unknown;
}

const MARK = Symbol.for('sor.operationMemo');

export function memoizedOperationFromDocument(original: OperationFromDocument): OperationFromDocument {
  const bySchema = new WeakMap<object, WeakMap<DefinitionNode, Built>>();
  const memoized: OperationFromDocument = (schema, document, options) => {
    const [first, ...fragments] = document.definitions;
    if (options?.validate !== false || options.operationName !== undefined || first?.kind !== Kind.OPERATION_DEFINITION) {
      return original(schema, document, options);
    }
    let byOperation = bySchema.get(schema);
    if (!byOperation) {
      byOperation = new WeakMap();
      bySchema.set(schema, byOperation);
    }
    const known = byOperation.get(first);
    if (known && known.fragments.length === fragments.length && known.fragments.every((f, i) => f === fragments[i])) return known.operation;
    const operation = original(schema, document, options);
    byOperation.set(first, { fragments, operation });
    return operation;
  };
  Object.defineProperty(memoized, MARK, { value: true });
  return memoized;
}

function install(target: unknown): void {
  if (typeof target !== 'object' || target === null) return;
  const descriptor = Object.getOwnPropertyDescriptor(target, 'operationFromDocument');
  const current: unknown = descriptor?.value;
  // Getters (the package's re-exports) read the defining module, patched below; only plain data properties are replaced.
  if (!descriptor?.writable || typeof current !== 'function' || MARK in current) return;
  (target as { operationFromDocument: OperationFromDocument }).operationFromDocument = memoizedOperationFromDocument(current as OperationFromDocument);
}

install(require('@apollo/federation-internals/dist/operations'));
install(require('@apollo/federation-internals'));
