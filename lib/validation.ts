import type { z } from 'zod';
import { badUserInput } from './errors';

/** Parses input with a zod schema; the first problem becomes BAD_USER_INPUT naming the field path. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, root = 'input'): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [root, ...(issue?.path ?? []).map(String)].join('.');
  throw badUserInput(path, issue?.message ?? 'is invalid');
}
