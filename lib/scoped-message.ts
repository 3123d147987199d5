import { z } from 'zod';
import { POLICY } from './auth/policy';
import { SUBGRAPH_NAMES, type SubgraphName } from './schema';

/**
 * A message about values of systems of record, kept with each value classified so it can be shown to each reader
 * with what that reader may see. A job's error message is read by anyone with sync:read, who may lack the scope of a
 * value a step saw (a credit limit, a credit status: finance:read); the value is tagged with the systems it comes
 * from and shown only to a reader holding each one's read scope in the policy table (lib/auth/policy.ts).
 */
export interface GuardedValue {
  /** The systems the value belongs to: a reader needs the `read` scope of every one of them (POLICY). */
  readonly of: readonly SubgraphName[];
  readonly value: string;
}
export type MessagePart = string | GuardedValue;
export interface ScopedMessage {
  readonly parts: readonly MessagePart[];
}

/** What a reader sees in place of a value it may not read. */
export const REDACTED = '[redacted]';

export const guarded = (of: SubgraphName | readonly SubgraphName[], value: string | number | bigint): GuardedValue => ({
  of: typeof of === 'string' ? [of] : [...of],
  value: String(value),
});

/**
 * Tagged template for messages: `scoped\`Credit status is ${guarded('erp', status)}\``. Interpolated plain values are
 * public (ids, system names); values of a system's data must be wrapped in `guarded`.
 */
export function scoped(strings: TemplateStringsArray, ...values: readonly (GuardedValue | string | number | bigint)[]): ScopedMessage {
  const parts: MessagePart[] = [];
  strings.forEach((text, i) => {
    if (text) parts.push(text);
    if (i < values.length) {
      const value = values[i];
      parts.push(typeof value === 'object' ? value : String(value));
    }
  });
  return { parts };
}

/** A whole message whose content nobody classified (a vendor's text, an unexpected error): guarded as one value. */
export const unclassified = (message: string, of: readonly SubgraphName[]): ScopedMessage => ({ parts: [guarded(of, message)] });

export const appendText = (m: ScopedMessage, text: string): ScopedMessage => ({ parts: [...m.parts, text] });

const mayRead = (scopes: ReadonlySet<string>, part: GuardedValue) => part.of.every((system) => scopes.has(POLICY[system].read));

/** The message as `scopes` may see it: guarded values outside them become REDACTED. */
export function renderFor(m: ScopedMessage, scopes: ReadonlySet<string>): string {
  return m.parts.map((p) => (typeof p === 'string' ? p : mayRead(scopes, p) ? p.value : REDACTED)).join('');
}

/** Everything, for the server's own log. */
export const fullText = (m: ScopedMessage): string => m.parts.map((p) => (typeof p === 'string' ? p : p.value)).join('');

/** What a reader without any system's scope sees: stored as the message's text, so a path that forgets to render shows no value. */
export const publicText = (m: ScopedMessage): string => renderFor(m, new Set());

/** The parts worth storing: null when nothing in the message is guarded (its public text is all of it). */
export const storedParts = (m: ScopedMessage): readonly MessagePart[] | null => (m.parts.some((p) => typeof p !== 'string') ? m.parts : null);

const partSchema = z.union([z.string(), z.object({ of: z.array(z.enum(SUBGRAPH_NAMES)), value: z.string() })]);
const partsSchema = z.array(partSchema);

/**
 * The text a reader with `scopes` sees of a stored message: its stored public text, or, when classified parts were
 * stored, those parts rendered for the reader. Parts that do not parse fall back to the public text.
 */
export function shownMessage(text: string | null, parts: unknown, scopes: ReadonlySet<string>): string | null {
  if (parts === null || parts === undefined) return text;
  const parsed = partsSchema.safeParse(parts);
  return parsed.success ? renderFor({ parts: parsed.data }, scopes) : text;
}
