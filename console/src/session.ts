/**
 * The signed-in token lives in sessionStorage only (gone with the tab; never in the URL, a cookie or a log). What the
 * console shows is derived from the token's own claims; the server checks every request anyway.
 */
const TOKEN_KEY = 'ops.token';

export interface Session {
  token: string;
  tenant: string;
  sub: string;
  kind: string;
  scopes: ReadonlySet<string>;
  /** Seconds since epoch. */
  exp: number;
}

/** What this token may do in the console. */
export interface Abilities {
  readSync: boolean;
  /** Replay dead letters, run reconciliation. */
  writeSync: boolean;
  /** Per-account status needs the account list (CRM) and its sync status. */
  readAccounts: boolean;
  /** The tenant's vendor connections. */
  admin: boolean;
}

export function abilities(s: Session): Abilities {
  const has = (scope: string) => s.scopes.has(scope);
  return { readSync: has('sync:read'), writeSync: has('sync:write'), readAccounts: has('crm:read') && has('sync:read'), admin: has('admin') };
}

/** Decodes a JWT's claims without verifying it (the gateway verifies); null when it is not a JWT of ours. */
export function decodeToken(token: string): Session | null {
  const part = token.trim().split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims: unknown = JSON.parse(json);
    if (typeof claims !== 'object' || claims === null) return null;
    const c = claims as Record<string, unknown>;
    if (typeof c['tenant'] !== 'string' || typeof c['sub'] !== 'string' || typeof c['exp'] !== 'number') return null;
    const scope = typeof c['scope'] === 'string' ? c['scope'] : '';
    return {
      token: token.trim(), tenant: c['tenant'], sub: c['sub'], kind: typeof c['kind'] === 'string' ? c['kind'] : 'user',
      scopes: new Set(scope.split(' ').filter(Boolean)), exp: c['exp'],
    };
  } catch {
    return null;
  }
}

export function storedSession(): Session | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const session = token ? decodeToken(token) : null;
  if (session && session.exp * 1000 <= Date.now()) {
    signOut();
    return null;
  }
  return session;
}

export function signIn(token: string): Session | null {
  const session = decodeToken(token);
  if (session) sessionStorage.setItem(TOKEN_KEY, session.token);
  return session;
}

export function signOut(): void {
  for (const key of Object.keys(sessionStorage)) if (key.startsWith('ops.')) sessionStorage.removeItem(key);
}
