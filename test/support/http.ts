export interface GraphQLResponse<D = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: { data?: D | null; errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[]; extensions?: Record<string, unknown> };
}

/** POSTs a GraphQL operation over real HTTP. */
export async function postGraphQL<D = Record<string, unknown>>(
  url: string,
  query: string,
  opts: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<D>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables: opts.variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as GraphQLResponse<D>['body'] };
}

export function codes(res: GraphQLResponse<unknown>): unknown[] {
  return (res.body.errors ?? []).map((e) => e.extensions?.['code']);
}
