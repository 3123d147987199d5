import type { Session } from './session';

/** A GraphQL answer with errors, or a transport failure; `codes` are the errors' extensions.code values. */
export class RequestError extends Error {
  constructor(message: string, readonly codes: readonly string[]) {
    super(message);
  }
}

interface GraphQLResponse<D> {
  data?: D | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One operation against the gateway's /graphql, the token in the Authorization header (never in the URL). */
export async function request<D>(session: Session, query: string, variables: Record<string, unknown> = {}): Promise<D> {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }))) as GraphQLResponse<D>;
  if (body.errors?.length) {
    throw new RequestError(body.errors.map((e) => e.message).join('; '), body.errors.map((e) => e.extensions?.code ?? 'UNKNOWN'));
  }
  if (!body.data) throw new RequestError(`HTTP ${res.status} without data`, []);
  return body.data;
}
