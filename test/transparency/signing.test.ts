import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  SESSION_SECRET: 'x'.repeat(32),
  STAFF_JWT_KEYS: `k1:${'y'.repeat(32)}`,
  PUBLIC_BASE_URL: 'https://members.newsroom.example',
  MONGODB_URI: 'mongodb+srv://cluster.example/membership',
  STRIPE_SECRET_KEY: 'sk_live_abc',
  STRIPE_WEBHOOK_SECRET: 'whsec_abc',
  SENDGRID_API_KEY: 'SG.abc',
  SENDGRID_WEBHOOK_PUBLIC_KEY: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE-public-key-placeholder',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('checkpoint signing keys', () => {
  it('when production has no signing key, or a malformed one, then the configuration is refused', () => {
    expect(problemsOf(PRODUCTION)).toEqual(['DRIVE_SIGNING_KEYS: is required in production']);
    expect(problemsOf({ ...PRODUCTION, DRIVE_SIGNING_KEYS: 'k:short' })).toEqual([
      'DRIVE_SIGNING_KEYS: kid:seed pairs, comma-separated, each seed 32 random bytes in base64url (43 characters)',
    ]);
  });

  it('when keys are configured, then the first signs with its kid and every one is published', () => {
    const [a, b] = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')];
    const config = loadConfig({ ...PRODUCTION, DRIVE_SIGNING_KEYS: `drive-2027:${a},drive-2026:${b}` });
    const signer = createSigner(config.transparency.keys);
    expect(signer.kid).toBe('drive-2027');
    expect(signer.publicKeys.map((k) => k.kid)).toEqual(['drive-2027', 'drive-2026']);
    const note = signer.signNote('a checkpoint\n', 'members.example/drive/x');
    const [, line] = note.split('\n\n');
    const signature = Buffer.from(line!.split(' ')[2]!, 'base64').subarray(4);
    const key = createPublicKey({ key: { ...signer.publicKeys[0]!.jwk }, format: 'jwk' });
    expect(verify(null, Buffer.from('a checkpoint\n'), key, signature)).toBe(true);
    expect(verify(null, Buffer.from('another\n'), key, signature)).toBe(false);
    expect(signer.vkeys('members.example/drive/x')).toHaveLength(2);
  });

  it('when a note is signed, then it is the signed note and verifier key Go’s sumdb/note makes for the same key', () => {
    // golang.org/x/mod/sumdb/note's own test vector (note_test.go, TestSign): the key
    // PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz.
    const seed = Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64').subarray(1);
    const signer = createSigner([{ kid: 'peter', seed }]);
    const text =
      "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    expect(signer.signNote(text, 'PeterNeumann')).toBe(
      `${text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    );
    expect(signer.vkeys('PeterNeumann')).toEqual([
      'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
    ]);
    expect(() => signer.signNote(text, 'a name')).toThrow();
    expect(() => signer.signNote(text, 'a+b')).toThrow();
  });

  it('when development has no key, then one is derived from the session secret, the same in every process', () => {
    const one = createSigner(loadConfig({}).transparency.keys);
    const two = createSigner(loadConfig({}).transparency.keys);
    expect(one.kid).toBe('dev');
    expect(one.publicKeys).toEqual(two.publicKeys);
    const other = createSigner(loadConfig({ SESSION_SECRET: 'z'.repeat(40) }).transparency.keys);
    expect(other.publicKeys).not.toEqual(one.publicKeys);
  });
});
