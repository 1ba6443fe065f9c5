import { generateKeyPairSync, sign } from 'node:crypto';

/** A key pair like the one SendGrid signs its Event Webhook with (ECDSA P-256, SHA-256). */
export function sendgridSigningKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    // SendGrid shows the verification key as base64 of the DER-encoded public key.
    publicKeyBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    signedHeaders(body: string, timestamp = String(Math.floor(Date.now() / 1000))) {
      const signature = sign('sha256', Buffer.from(timestamp + body), privateKey).toString('base64');
      return {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signature,
        'x-twilio-email-event-webhook-timestamp': timestamp,
      };
    },
  };
}
