import { type KeyObject, createSecretKey } from 'node:crypto';

/**
 * The HS256 key of a shared secret, made once per signer or verifier: jose imports a raw `Uint8Array` key again on
 * every sign and verify, a KeyObject it uses as is (30.2 vs 36.5 µs per claims header, bench/hot-hashing.ts).
 */
export const hmacKey = (secret: string): KeyObject => createSecretKey(Buffer.from(secret, 'utf8'));
