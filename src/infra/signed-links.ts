import { createHmac, timingSafeEqual } from 'node:crypto';

// Links that act for a reader without a login (unsubscribe, download or delete my data) carry an
// HMAC of what they allow, with a purpose so one kind of link cannot be used as another.

export function signLink(secret: string, purpose: string, ...parts: string[]): string {
  return createHmac('sha256', secret)
    .update([purpose, ...parts].join('\n'))
    .digest('base64url');
}

export function verifyLink(secret: string, signature: string, purpose: string, ...parts: string[]): boolean {
  const expected = Buffer.from(signLink(secret, purpose, ...parts));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
