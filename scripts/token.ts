import { parseArgs } from 'node:util';
import { SCOPES, TOKEN_KINDS, type TokenKind } from '../lib/auth/principal';
import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { runMain } from '../lib/process';

/** `npm run token -- --tenant acme --kind partner --scope "crm:read" --ttl 3600` prints a signed token. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string', default: 'acme' },
      sub: { type: 'string', default: 'dev-user' },
      kind: { type: 'string', default: 'user' },
      scope: { type: 'string', default: SCOPES.filter((s) => s !== 'admin').join(' ') },
      ttl: { type: 'string', default: '3600' },
    },
  });
  if (!TOKEN_KINDS.includes(values.kind as TokenKind)) throw new Error(`--kind must be one of ${TOKEN_KINDS.join(', ')}`);
  const scopes = values.scope.split(/[\s,]+/).filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`Unknown scopes: ${unknown.join(', ')} (known: ${SCOPES.join(' ')})`);
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new Error('--ttl must be a positive number of seconds');
  const token = await mintToken(loadConfig().jwt, { sub: values.sub, tenant: values.tenant, kind: values.kind as TokenKind, scopes, ttlSeconds });
  process.stdout.write(`${token}\n`);
}

runMain(main);
