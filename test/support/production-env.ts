import { generateKeyPairSync } from 'node:crypto';

/**
 * An environment production accepts (nothing in it is reached): every required secret and key, an
 * https:// public URL, live-looking Stripe keys. Tests spread it and change what they test.
 */
export const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  SESSION_SECRET: 'x'.repeat(32),
  STAFF_JWT_KEYS: `k1:${'y'.repeat(32)}`,
  DRIVE_SIGNING_KEYS: `drive-2026:${'z'.repeat(43)}`,
  PUBLIC_BASE_URL: 'https://members.newsroom.example',
  MONGODB_URI: 'mongodb://127.0.0.1:1/unused',
  STRIPE_SECRET_KEY: 'sk_live_abc',
  STRIPE_WEBHOOK_SECRET: 'whsec_abc',
  SENDGRID_API_KEY: 'SG.abc',
  SENDGRID_WEBHOOK_PUBLIC_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'der' })
    .toString('base64'),
};
