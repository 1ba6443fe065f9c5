import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';

// Checkpoints are C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, so any note verifier
// (Go's golang.org/x/mod/sumdb/note among them) checks them. Keys come from configuration as 32-byte
// seeds with a key id; the first signs, and every configured key's public half is published, so a
// rotated-out key keeps old checkpoints verifiable while it stays listed. Why this format: ADR 0014.

export interface PublishedKey {
  kid: string;
  alg: 'Ed25519';
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string };
}

export interface CheckpointSigner {
  kid: string;
  /**
   * The signed note of `text` (which ends in a newline): the text, a blank line and one signature
   * line `— <name> base64(key id || Ed25519 signature)` by the first key.
   */
  signNote(text: string, name: string): string;
  /** Every configured key as a verifier key for `name`: `<name>+<hex key id>+base64(0x01 || key)`. */
  vkeys(name: string): string[];
  publicKeys: PublishedKey[];
}

/** The signature type byte of Ed25519 in signed notes. */
const ED25519 = 0x01;

// A PKCS#8 wrapper for a raw Ed25519 seed (RFC 8410): the fixed prefix, then the 32 bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeyOf(seed: Buffer): KeyObject {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** A note key name: non-empty, no Unicode space, no `+` (signed-note, "Format"). */
export function isKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

/** The first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key): the key id of signed-note. */
export function keyIdOf(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

export function createSigner(keys: { kid: string; seed: Buffer }[]): CheckpointSigner {
  const pairs = keys.map(({ kid, seed }) => {
    const key = privateKeyOf(seed);
    const x = String(createPublicKey(key).export({ format: 'jwk' }).x);
    return { kid, key, x, raw: Buffer.from(x, 'base64url') };
  });
  const first = pairs[0];
  if (!first) throw new Error('no checkpoint signing key');
  const named = (name: string) => {
    if (!isKeyName(name)) throw new Error(`not a note key name: ${JSON.stringify(name)}`);
    return name;
  };
  return {
    kid: first.kid,
    signNote(text, name) {
      if (!text.endsWith('\n')) throw new Error('a note text ends in a newline');
      const signature = sign(null, Buffer.from(text, 'utf8'), first.key);
      const line = Buffer.concat([keyIdOf(named(name), first.raw), signature]).toString('base64');
      return `${text}\n— ${name} ${line}\n`;
    },
    vkeys: (name) =>
      pairs.map(
        ({ raw }) =>
          `${named(name)}+${keyIdOf(name, raw).toString('hex')}+${Buffer.concat([Buffer.from([ED25519]), raw]).toString('base64')}`,
      ),
    publicKeys: pairs.map(({ kid, x }) => ({ kid, alg: 'Ed25519', jwk: { kty: 'OKP', crv: 'Ed25519', x } })),
  };
}
