import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { type Connection, Schema } from 'mongoose';

// Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1) on our checkpoints: a
// witness's note signature line over "cosignature/v1\ntime <t>\n" and the checkpoint's note text,
// `— <witness name> base64(key id || u64 t || signature)`, key id SHA-256(name || 0x0A || 0x04 || key)[:4].
// Why witnesses: docs/adr/0015-witnesses-cosign-checkpoints.md.

/** The signature type byte of Ed25519 cosignature/v1 keys. */
const COSIGNATURE_V1 = 0x04;

export interface Witness {
  /** The submission prefix: add-checkpoint is posted to `<url>/add-checkpoint`. */
  url: string;
  vkey: string;
  name: string;
  /** The 4-byte key id, hex. */
  keyId: string;
  key: KeyObject;
}

/** A configured witness (DRIVE_WITNESSES), its vkey read and its key id checked; throws if wrong. */
export function witnessOf({ url, vkey }: { url: string; vkey: string }): Witness {
  const [name = '', keyId = '', ...rest] = vkey.split('+');
  const encoded = rest.join('+'); // base64 may hold `+` too
  const material = Buffer.from(encoded, 'base64');
  const raw = material.subarray(1);
  const expected = createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, COSIGNATURE_V1]))
    .update(raw)
    .digest()
    .subarray(0, 4)
    .toString('hex');
  if (material.length !== 33 || material[0] !== COSIGNATURE_V1 || keyId !== expected)
    throw new Error(`DRIVE_WITNESSES: ${vkey.slice(0, 40)}… is not an Ed25519 cosignature/v1 vkey`);
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
  return { url, vkey, name, keyId, key };
}

/** The cosignature time of `line` when it is `witness`'s valid cosignature of the note `text`, else null. */
export function verifyCosignature(witness: Witness, text: string, line: string): Date | null {
  const match = /^— (\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
  if (!match || match[1] !== witness.name) return null;
  const bytes = Buffer.from(match[2]!, 'base64');
  if (bytes.length !== 4 + 8 + 64 || bytes.subarray(0, 4).toString('hex') !== witness.keyId) return null;
  const time = bytes.readBigUInt64BE(4);
  if (time === 0n || time >= 2n ** 63n) return null;
  const message = Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');
  return verify(null, message, witness.key, bytes.subarray(12)) ? new Date(Number(time) * 1000) : null;
}

/** One witness's cosignature of one checkpoint: `<campaignId>#<sequence>@<witness name>+<key id>`. */
export interface Cosignature {
  _id: string;
  campaignId: string;
  sequence: number;
  treeSize: number;
  /** The witness's vkey. */
  witness: string;
  /** The signature line as the witness answered it, appended to the published note. */
  line: string;
  /** The time the witness put in it. */
  time: Date;
}

export const cosignatureId = (checkpointId: string, witness: Witness) =>
  `${checkpointId}@${witness.name}+${witness.keyId}`;

const cosignatureSchema = new Schema<Cosignature>(
  {
    _id: { type: String, required: true },
    campaignId: { type: String, required: true },
    sequence: { type: Number, required: true },
    treeSize: { type: Number, required: true },
    witness: { type: String, required: true },
    line: { type: String, required: true },
    time: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerCosignatureModel(db: Connection): void {
  if (!db.models.DriveCosignature) db.model('DriveCosignature', cosignatureSchema, 'drive_cosignatures');
}

export const cosignatureModel = (db: Connection) => db.model<Cosignature>('DriveCosignature');
