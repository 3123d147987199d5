import { buildSchema } from '@apollo/federation-internals';
import { Kind, type OperationDefinitionNode, parse } from 'graphql';
import { memoizedOperationFromDocument } from '../gateway/operation-memo';

/**
 * gateway/operation-memo.ts: executeQueryPlan's per-request `operationFromDocument(apiSchema, { operation, ...fragments },
 * { validate: false })` is built once per operation node, schema and fragment set; every other call goes through.
 */
const schema = buildSchema('type Query { a: Int b: A } type A { x: Int y: Int }');

function counting() {
  const calls: unknown[] = [];
  const original = (_schema: object, document: { definitions: readonly unknown[] }, _options?: object) => {
    const built = { built: calls.length, definitions: document.definitions };
    calls.push(built);
    return built;
  };
  return { calls, memo: memoizedOperationFromDocument(original) };
}

describe('operation memo', () => {
  const document = parse('query Q { a b { ...F } } fragment F on A { x }');
  const operation = document.definitions[0] as OperationDefinitionNode;
  const fragment = document.definitions[1];
  if (!fragment) throw new Error('no fragment');

  it('builds once per operation node, schema and fragment set for the executor call', () => {
    const { calls, memo } = counting();
    const first = memo(schema, { definitions: [operation, fragment] }, { validate: false });
    const again = memo(schema, { definitions: [operation, fragment] }, { validate: false });
    expect(again).toBe(first);
    expect(calls).toHaveLength(1);

    // Another schema (a supergraph update), other fragments, or another operation node: built anew.
    const otherSchema = buildSchema('type Query { a: Int b: A } type A { x: Int y: Int }');
    memo(otherSchema, { definitions: [operation, fragment] }, { validate: false });
    const otherFragment = parse('fragment F on A { y }').definitions[0];
    if (!otherFragment) throw new Error('no fragment');
    memo(schema, { definitions: [operation, otherFragment] }, { validate: false });
    memo(schema, { definitions: [operation] }, { validate: false });
    const sameText = parse('query Q { a b { ...F } } fragment F on A { x }').definitions[0];
    if (!sameText) throw new Error('no operation');
    memo(schema, { definitions: [sameText, fragment] }, { validate: false });
    expect(calls).toHaveLength(5);
  });

  it('leaves every other call alone (the planner names the operation; validation on)', () => {
    const { calls, memo } = counting();
    memo(schema, document, { operationName: 'Q' });
    memo(schema, document, { operationName: 'Q' });
    memo(schema, { definitions: [operation] }, {});
    memo(schema, { definitions: [operation] });
    memo(schema, { definitions: [fragment, operation] }, { validate: false });
    memo(schema, { definitions: [fragment, operation] }, { validate: false });
    expect(calls).toHaveLength(6);
    expect(fragment.kind).toBe(Kind.FRAGMENT_DEFINITION);
  });

  it('is installed where @apollo/gateway finds it once the module is loaded', () => {
    const operations = require('@apollo/federation-internals/dist/operations') as { operationFromDocument: object };
    expect(Object.getOwnPropertySymbols(operations.operationFromDocument).map(String)).toContain('Symbol(sor.operationMemo)');
  });
});
