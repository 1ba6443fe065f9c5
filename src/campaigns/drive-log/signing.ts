import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';

// Checkpoints are signed with Ed25519. Keys come from configuration as 32-byte seeds with a key id;
// the first signs, and every configured key's public half is published at a well-known URL, so a
// rotated-out key keeps old checkpoints verifiable while it stays listed.

export interface PublishedKey {
  kid: string;
  alg: 'Ed25519';
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string };
}

export interface CheckpointSigner {
  kid: string;
  /** Base64 Ed25519 signature over the body's UTF-8 bytes. */
  sign(body: string): string;
  publicKeys: PublishedKey[];
}

// A PKCS#8 wrapper for a raw Ed25519 seed (RFC 8410): the fixed prefix, then the 32 bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeyOf(seed: Buffer): KeyObject {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function createSigner(keys: { kid: string; seed: Buffer }[]): CheckpointSigner {
  const pairs = keys.map(({ kid, seed }) => ({ kid, key: privateKeyOf(seed) }));
  const first = pairs[0];
  if (!first) throw new Error('no checkpoint signing key');
  return {
    kid: first.kid,
    sign: (body) => sign(null, Buffer.from(body, 'utf8'), first.key).toString('base64'),
    publicKeys: pairs.map(({ kid, key }) => {
      const jwk = createPublicKey(key).export({ format: 'jwk' });
      return { kid, alg: 'Ed25519', jwk: { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) } };
    }),
  };
}
