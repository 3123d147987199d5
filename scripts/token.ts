import { SCOPES, TOKEN_KINDS, type TokenKind } from '../lib/auth/principal';
import { mintToken } from '../lib/auth/tokens';
import { parseCli } from '../lib/cli';
import { loadConfig } from '../lib/config';
import { runMain } from '../lib/process';

const DEFAULT_SCOPES = SCOPES.filter((s) => s !== 'admin').join(' ');

/** `npm run -s token -- --tenant acme --kind partner --scope "crm:read" --ttl 3600` prints a signed token. */
async function main(): Promise<void> {
  const { values } = parseCli({
    usage: 'npm run -s token -- [options]',
    summary: 'Prints a JWT signed with JWT_SECRET (the development secret when unset). `-s` keeps npm\'s own lines out, so\n`export TOKEN=$(npm run -s token -- --tenant globex)` captures just the token.',
    options: {
      tenant: { type: 'string', default: 'acme', description: 'tenant claim', placeholder: 'id' },
      sub: { type: 'string', default: 'dev-user', description: 'subject: the user, partner or service id', placeholder: 'id' },
      kind: { type: 'string', default: 'user', description: `token kind: ${TOKEN_KINDS.join(', ')}`, placeholder: 'kind' },
      scope: { type: 'string', default: DEFAULT_SCOPES, description: `space- or comma-separated scopes, of: ${SCOPES.join(' ')}`, placeholder: 'scopes' },
      ttl: { type: 'string', default: '3600', description: 'lifetime in seconds', placeholder: 'seconds' },
    },
    epilogue: 'Example (a partner of globex that may read CRM data for an hour):\n  npm run -s token -- --tenant globex --kind partner --sub globex-partner --scope "crm:read" --ttl 3600',
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
