// The witness side of c2sp.org/tlog-witness, with Ed25519 cosignatures (c2sp.org/tlog-cosignature,
// cosignature/v1). Node 20 built-ins only. `bin/witness.mjs` serves it over HTTP; this file decides
// what a request gets and keeps the state. Why a witness, and why this protocol: docs/adr/0015.
//
// For each log it witnesses (an origin and the log's vkeys) the witness remembers the latest
// checkpoint it cosigned: its size and root. It cosigns a new checkpoint only when the log signed
// it and a consistency proof shows it extends that one, so a log can never get two cosigned trees
// that do not extend each other, whatever it shows anyone else.

import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import {
  COSIGNATURE_V1,
  cosignedMessage,
  fromBase64,
  parseNote,
  parseVkey,
  toBase64,
  verifyConsistency,
} from './drive-verify-core.mjs';

/** RFC 6962: the root of the empty tree is the hash of the empty string. */
const EMPTY_ROOT = createHash('sha256').digest('base64');
const MAX_PROOF_LINES = 63;
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const answer = (status, body, type = 'text/plain; charset=utf-8') => ({ status, body, type });

/** SHA-256(name || 0x0A || 0x04 || public key)[:4]: a cosignature/v1 key id. */
function keyIdOf(name, publicKey) {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, COSIGNATURE_V1]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** The witness key as note tools write a private key: PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed). */
export function formatPrivateKey(name, seed) {
  const { keyId } = keyOf(name, seed);
  return `PRIVATE+KEY+${name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([COSIGNATURE_V1]), seed]).toString('base64')}`;
}

/** Reads formatPrivateKey's text: { name, seed }, or throws. */
export function parsePrivateKey(text) {
  // base64 may hold `+` too: the key is everything after the fourth one.
  const parts = String(text).trim().split('+');
  const seed = parts.length >= 5 ? Buffer.from(parts.slice(4).join('+'), 'base64') : Buffer.alloc(0);
  if (parts[0] !== 'PRIVATE' || parts[1] !== 'KEY' || seed.length !== 33 || seed[0] !== COSIGNATURE_V1)
    throw new Error('not a witness key (PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed))');
  return { name: parts[2], seed: seed.subarray(1) };
}

function keyOf(name, seed) {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const raw = Buffer.from(String(createPublicKey(key).export({ format: 'jwk' }).x), 'base64url');
  return { key, raw, keyId: keyIdOf(name, raw) };
}

/**
 * A witness named `name` with the Ed25519 `seed`, witnessing `logs` ([{ origin, vkeys }]), its
 * state `{ logs: { <origin>: { size, root, note, time } } }` kept by `save(state)` (which must
 * persist before it returns). `now()` gives the time of a cosignature.
 */
export function createWitness({ name, seed, logs, state, save, now = () => new Date() }) {
  const { key, raw, keyId } = keyOf(name, seed);
  const vkey = `${name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([COSIGNATURE_V1]), raw]).toString('base64')}`;
  const trusted = new Map();
  for (const log of logs) trusted.set(log.origin, [...(trusted.get(log.origin) ?? []), ...log.vkeys]);
  let turn = Promise.resolve();

  function cosign(text) {
    const time = Math.max(1, Math.floor(now().getTime() / 1000));
    const stamp = Buffer.alloc(8);
    stamp.writeBigUInt64BE(BigInt(time));
    const signature = sign(null, Buffer.from(cosignedMessage(text, time), 'utf8'), key);
    return `— ${name} ${Buffer.concat([keyId, stamp, signature]).toString('base64')}`;
  }

  /** The note's signatures by the log's keys: 'ok', or 'none' / 'bad' (both 403). */
  async function logSignatures(note, vkeys) {
    const keys = (await Promise.all(vkeys.map(parseVkey))).filter(Boolean);
    const good = [];
    for (const line of note.signatures) {
      const known = keys.find((k) => k.name === line.name && k.keyId === line.keyId);
      if (!known) continue;
      const ok = await crypto.subtle
        .verify({ name: 'Ed25519' }, known.key, line.signature, new TextEncoder().encode(note.text))
        .catch(() => false);
      if (!ok) return { verdict: 'bad' };
      good.push(
        `— ${line.name} ${toBase64(Buffer.concat([Buffer.from(line.keyId, 'hex'), line.signature]))}`,
      );
    }
    return good.length > 0 ? { verdict: 'ok', lines: good } : { verdict: 'none' };
  }

  /** POST /add-checkpoint: the request body as text; answers { status, body, type }. */
  async function addCheckpoint(body) {
    const end = body.indexOf('\n\n');
    if (end < 0)
      return answer(400, 'the body is an old size line, proof lines, a blank line and a checkpoint\n');
    const [oldLine, ...proofLines] = body.slice(0, end).split('\n');
    const old = /^old (0|[1-9]\d*)$/.exec(oldLine ?? '');
    const proof = proofLines.map((line) => fromBase64(line));
    if (!old || proof.length > MAX_PROOF_LINES || proof.some((hash) => hash?.length !== 32))
      return answer(400, 'bad old size or consistency proof line\n');
    const note = parseNote(body.slice(end + 2));
    const [origin, sizeLine, rootLine] = note ? note.text.split('\n') : [];
    if (!note || !/^(0|[1-9]\d*)$/.test(sizeLine ?? '') || fromBase64(rootLine ?? '')?.length !== 32)
      return answer(400, 'not a signed checkpoint note\n');
    const vkeys = trusted.get(origin);
    if (!vkeys) return answer(404, 'this witness does not witness that log\n');
    const signed = await logSignatures(note, vkeys);
    if (signed.verdict !== 'ok')
      return answer(
        403,
        signed.verdict === 'bad' ? 'a log signature does not verify\n' : 'not signed by the log\n',
      );
    const [oldSize, size] = [Number(old[1]), Number(sizeLine)];
    if (!Number.isSafeInteger(size) || oldSize > size)
      return answer(400, 'the old size is above the checkpoint size\n');
    // Checking the old size and storing the new checkpoint happen one request at a time: two
    // interleaved requests could otherwise roll the recorded size back (tlog-witness, add-checkpoint).
    const run = turn.then(() =>
      decide({ origin, oldSize, size, root: rootLine, proof, note, logLines: signed.lines }),
    );
    turn = run.catch(() => {});
    return run;
  }

  async function decide({ origin, oldSize, size, root, proof, note, logLines }) {
    const latest = state.logs[origin];
    const latestSize = latest?.size ?? 0;
    if (oldSize !== latestSize) return answer(409, `${latestSize}\n`, 'text/x.tlog.size');
    const refuse = (reason) => {
      // Kept in the witness's log: a signed checkpoint that does not extend a cosigned one is
      // evidence that the log showed someone another tree.
      console.error(
        JSON.stringify({ refused: reason, origin, oldSize, size, root, at: now().toISOString() }),
      );
      return answer(422, `${reason}\n`);
    };
    if (size === 0 && root !== EMPTY_ROOT) return refuse('a tree of size 0 has the empty root');
    if (oldSize === 0 && proof.length > 0) return refuse('no proof is needed from size 0');
    if (oldSize === size && latest && root !== latest.root)
      return refuse('another root for the size already cosigned');
    if (oldSize > 0 && oldSize < size) {
      const consistent = await verifyConsistency(
        oldSize,
        size,
        proof,
        fromBase64(latest.root),
        fromBase64(root),
      );
      if (!consistent) return refuse('the consistency proof does not verify');
    }
    const line = cosign(note.text);
    state.logs[origin] = {
      size,
      root,
      note: `${note.text}\n${[...logLines, line].join('\n')}\n`,
      time: now().toISOString(),
    };
    await save(state);
    return answer(200, `${line}\n`);
  }

  /** GET /<hex SHA-256 of the origin>/checkpoint: the latest cosigned checkpoint, or null. */
  function checkpointOf(originHash) {
    for (const [origin, latest] of Object.entries(state.logs))
      if (createHash('sha256').update(origin).digest('hex') === originHash) return latest.note;
    return null;
  }

  return { name, vkey, addCheckpoint, checkpointOf, origins: () => [...trusted.keys()] };
}
