import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Connection credentials at rest: AES-256-GCM envelope encryption. Each secret gets its own random data key (DEK)
 * that encrypts the payload; the DEK is stored encrypted ("wrapped") under a key-encryption key (KEK) from the
 * environment, named by a key id. Rotating KEKs needs no downtime: put the new key first in `CONNECTOR_KEYS` (it
 * wraps from then on) and keep the old one after it (it still unwraps); `rewrap` moves a record to the active key by
 * re-wrapping its 32-byte DEK only, the payload ciphertext is untouched. Once no record names the old key id it can
 * be dropped from the environment.
 *
 * The additional authenticated data binds a ciphertext to its row (tenant and connection id), so a copied ciphertext
 * does not decrypt under another connection.
 */

/** What is stored: never the plain secret, never the DEK in clear. All binary fields base64. */
export interface SealedSecret {
  v: 1;
  /** Id of the KEK that wrapped the DEK. */
  kid: string;
  /** The DEK encrypted under the KEK: iv (12) | tag (16) | ciphertext (32). */
  dek: string;
  /** The payload encrypted under the DEK: iv (12) | tag (16) | ciphertext. */
  data: string;
}

export interface KeyRing {
  /** Id of the key that wraps new secrets (the first in `CONNECTOR_KEYS`); null when no key is configured. */
  readonly activeKeyId: string | null;
  seal(plain: string, aad: string): SealedSecret;
  /** Throws when the record's key id is unknown or the record was tampered with (GCM tag mismatch). */
  open(sealed: SealedSecret, aad: string): string;
  /** The same secret with its DEK wrapped under the active key (a no-op when it already is). */
  rewrap(sealed: SealedSecret, aad: string): SealedSecret;
}

const IV = 12;
const TAG = 16;

function encrypt(key: Buffer, plain: Buffer, aad: string): string {
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

function decrypt(key: Buffer, packed: string, aad: string): Buffer {
  const buf = Buffer.from(packed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(buf.subarray(IV, IV + TAG));
  return Buffer.concat([decipher.update(buf.subarray(IV + TAG)), decipher.final()]);
}

/** A key ring over named 32-byte keys; the first entry is the active one. */
export function keyRing(keys: readonly { id: string; key: Buffer }[]): KeyRing {
  const first = keys[0];
  if (!first) throw new Error('CONNECTOR_KEYS: at least one key is required');
  const byId = new Map(keys.map((k) => [k.id, k.key]));
  const kek = (id: string) => {
    const key = byId.get(id);
    if (!key) throw new Error(`connection secret is sealed with key "${id}", which CONNECTOR_KEYS no longer holds`);
    return key;
  };
  // Wrapping AAD names the key id as well, so a DEK cannot be presented as wrapped by another key.
  const wrapAad = (kid: string, aad: string) => `${kid}|${aad}`;
  const ring: KeyRing = {
    activeKeyId: first.id,
    seal(plain, aad) {
      const dek = randomBytes(32);
      return { v: 1, kid: first.id, dek: encrypt(first.key, dek, wrapAad(first.id, aad)), data: encrypt(dek, Buffer.from(plain, 'utf8'), aad) };
    },
    open(sealed, aad) {
      const dek = decrypt(kek(sealed.kid), sealed.dek, wrapAad(sealed.kid, aad));
      return decrypt(dek, sealed.data, aad).toString('utf8');
    },
    rewrap(sealed, aad) {
      if (sealed.kid === first.id) return sealed;
      const dek = decrypt(kek(sealed.kid), sealed.dek, wrapAad(sealed.kid, aad));
      return { ...sealed, kid: first.id, dek: encrypt(first.key, dek, wrapAad(first.id, aad)) };
    },
  };
  return ring;
}

/** Used only outside production when `CONNECTOR_KEYS` is unset, so `npm start` works out of the box. */
const DEV_KEY = { id: 'dev', key: createHash('sha256').update('dev-only-connector-key: never use in production').digest() };

/**
 * Production without `CONNECTOR_KEYS`: the product runs (every tenant on the reference stores), but any attempt to
 * store or use vendor credentials fails with this message rather than falling back to a key everyone knows.
 */
const NO_KEYS: KeyRing = {
  activeKeyId: null,
  seal: () => missingKeys(),
  open: () => missingKeys(),
  rewrap: () => missingKeys(),
};
function missingKeys(): never {
  throw new Error('CONNECTOR_KEYS is not set: connection credentials cannot be sealed or opened (id:base64 32-byte keys, active first)');
}

/**
 * Parses `CONNECTOR_KEYS`: comma-separated `id:base64key` entries (32-byte keys), active first, e.g.
 * `k2:<base64>,k1:<base64>`. Generate a key with `openssl rand -base64 32`. Unset: a fixed development key outside
 * production; in production, a ring that refuses every use.
 */
export function keyRingFromEnv(value: string | undefined, production: boolean): KeyRing {
  if (!value) return production ? NO_KEYS : keyRing([DEV_KEY]);
  const keys = value.split(',').map((entry) => {
    const [id, b64] = entry.trim().split(':');
    const key = Buffer.from(b64 ?? '', 'base64');
    if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
      throw new Error('Invalid configuration:\n  CONNECTOR_KEYS: each entry must be id:base64 of 32 bytes (openssl rand -base64 32)');
    }
    return { id, key };
  });
  return keyRing(keys);
}

/** What the API may show of a secret: a fingerprint to compare and the last four characters, never more. */
export function describeSecret(secret: string): { fingerprint: string; last4: string } {
  return { fingerprint: `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`, last4: secret.slice(-4) };
}
