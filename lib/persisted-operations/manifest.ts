import { createHash } from 'node:crypto';
import { type ASTNode, type DocumentNode, Kind, parse, print, stripIgnoredCharacters, visit } from 'graphql';
import { z } from 'zod';
import { badUserInput } from '../errors';
import { validate } from '../validation';

/** Limits of one partner's list: generous for an application's operations, bounded for the store and the audit log. */
export const MANIFEST_LIMITS = { operations: 1000, bodyChars: 100_000, idChars: 128 } as const;

/**
 * An Apollo persisted-query manifest, as `@apollo/generate-persisted-query-manifest` writes it
 * (`persisted-query-manifest.json`): `{ format, version: 1, operations: [{ id, name, type, body }] }`.
 */
export const persistedQueryManifest = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(z.object({
    id: z.string().min(1).max(MANIFEST_LIMITS.idChars),
    name: z.string().max(200),
    type: z.enum(['query', 'mutation', 'subscription']),
    body: z.string().min(1).max(MANIFEST_LIMITS.bodyChars),
  })).max(MANIFEST_LIMITS.operations),
});
export type PersistedQueryManifest = z.infer<typeof persistedQueryManifest>;

/** One registered operation: what clients send the id of, and the hash its text is recognised by. */
export interface RegisteredOperation {
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
  normalizedHash: string;
}

/**
 * The document as a registry compares it: `__typename` selections removed (Apollo Client adds them to every selection
 * set, the manifest generator too, a hand-written query has none) and printed canonically, whitespace, commas and
 * comments stripped. Two texts of the same operation get the same hash however they are formatted.
 */
export function normalizedHash(document: DocumentNode): string {
  const stripped = visit(document, {
    Field(node) {
      return node.name.value === '__typename' && !node.alias && !node.selectionSet ? null : undefined;
    },
  }) as ASTNode;
  return createHash('sha256').update(stripIgnoredCharacters(print(stripped))).digest('hex');
}

/** Validates a manifest (BAD_USER_INPUT naming the entry) and returns its operations ready to store. */
export function manifestOperations(input: unknown, root = 'manifest'): RegisteredOperation[] {
  const manifest = validate(persistedQueryManifest, input, root);
  const ids = new Set<string>();
  return manifest.operations.map((op, i) => {
    if (ids.has(op.id)) throw badUserInput(`${root}.operations.${i}.id`, `duplicate id ${op.id}`);
    ids.add(op.id);
    let document: DocumentNode;
    try {
      document = parse(op.body, { maxTokens: 10_000 });
    } catch (err) {
      throw badUserInput(`${root}.operations.${i}.body`, `is not a GraphQL document: ${err instanceof Error ? err.message : String(err)}`);
    }
    const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    if (operations.length !== 1 || operations[0]?.operation !== op.type) {
      throw badUserInput(`${root}.operations.${i}.body`, `must hold exactly one ${op.type} operation`);
    }
    return { ...op, normalizedHash: normalizedHash(document) };
  });
}
