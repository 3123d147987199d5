import { z } from 'zod';

export const SCOPES = [
  'crm:read', 'crm:write', 'finance:read', 'finance:write', 'billing:read', 'billing:write', 'sync:read', 'sync:write', 'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export const TOKEN_KINDS = ['user', 'partner', 'service'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** Who is calling, as verified by the gateway. Subgraphs receive it signed by the gateway. */
export interface Principal {
  sub: string;
  tenant: string;
  kind: TokenKind;
  scopes: ReadonlySet<string>;
  /** Seconds since epoch when the caller's own token expires. */
  exp: number;
}

export const tenantId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a lowercase tenant slug');

/** The claims our tokens carry, validated after the signature is checked. */
export const tokenClaims = z.object({
  sub: z.string().min(1),
  tenant: tenantId,
  scope: z.string().default(''),
  kind: z.enum(TOKEN_KINDS).default('user'),
  exp: z.number().int(),
});

export function principalFromClaims(claims: z.infer<typeof tokenClaims>): Principal {
  return {
    sub: claims.sub,
    tenant: claims.tenant,
    kind: claims.kind,
    scopes: new Set(claims.scope.split(' ').filter(Boolean)),
    exp: claims.exp,
  };
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has(scope);
}
