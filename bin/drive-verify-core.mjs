// Checks a membership drive's published count without trusting the service that publishes it.
//
// Dependency-free and the same file everywhere: `bin/verify-drive.mjs` runs it in Node (built-ins
// only) and the page at /campaigns/:slug/verify runs it in the browser. It uses nothing but WebCrypto
// (SHA-256, Ed25519) and a `fetchJson(path)` the caller provides.
//
// What it checks, from the public API alone:
//  1. every checkpoint is a C2SP signed note (c2sp.org/signed-note) whose text is a C2SP
//     tlog-checkpoint (c2sp.org/tlog-checkpoint) for this campaign's log, signed (Ed25519) by a
//     verifier key the log publishes (`/campaigns/:slug/transparency/vkeys`), as docs/adr/0014 says;
//  2. checkpoints form a chain: each names the previous one's hash, sequence numbers and sizes never
//     go back, and a consistency proof (RFC 6962 / RFC 9162) shows each tree extends the one before,
//     so nothing logged was ever removed or rewritten;
//  3. the leaves (public: kind and a salted commitment, nothing personal) hash to the latest signed
//     root, and every checkpoint's additions and revocations are what those leaves say; every
//     revocation names an earlier addition, each addition is revoked at most once;
//     every leaf is of the public form, and no commitment appears twice;
//  4. each count is offset + additions − revocations, and never negative, where the offset (members
//     counted before the log existed) is the sum of the log's `offset` leaves: the starting offset and
//     every change to it, each with its amount, a public reason and a hashed staff id. Checkpoints
//     signed before the log's first offset leaf (logs older than offset leaves) must all claim the
//     offset that leaf states, so an offset never moves outside the log. The offset leaves are
//     answered (`offsets`: amount, reason, staff hash, when) for readers to see each change;
//  5. every leaf carries the log's signed promise (like Certificate Transparency's SCT): a signed
//     note, under the log's key, that leaf n of this campaign is this leaf hash and will be in a
//     checkpoint by `merge_by`, which the first checkpoint holding it kept. A leaf written into the
//     database without the key has none, so it is refused however it got signed into a checkpoint;
//  6. a receipt (record id + salt, given to the member) is in the log: its commitment's inclusion
//     proof leads to the latest signed root.
//  7. a member's promise (`checkPromise`, given with the receipt): by its `merge_by` a checkpoint
//     holds the promised leaf hash at the promised index, or the log broke it (a dropped leaf).

const encoder = new TextEncoder();

export const FORMAT = 'membership-drive checkpoint v2';
/** Hourly checkpoints, with room for a late run of the job. */
const STALE_MS = 2 * 3_600_000;

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/.test(hex)) throw new Error('not lowercase hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Standard, padded base64 (RFC 4648 §4), strictly: anything else is null. */
export function fromBase64(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return toBase64(bytes) === text ? bytes : null; // canonical: no stray bits in the padding
}

export function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

export async function sha256Hex(text) {
  return toHex(await sha256(encoder.encode(text)));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// RFC 6962 §2.1: leaves and interior nodes are hashed with different prefixes, so a leaf can never
// pass for a node.
export async function leafHash(leafData) {
  return sha256(concat(Uint8Array.of(0), encoder.encode(leafData)));
}
async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/**
 * What a leaf says, as hashed: `add <commitment>`, `revoke <commitment> <index of the addition>` or
 * `offset <commitment> <amount> <staff hash> <reason as a JSON string>`.
 */
export function leafDataOf(leaf) {
  if (leaf.kind === 'add') return `add ${leaf.commitment}`;
  if (leaf.kind === 'revoke') return `revoke ${leaf.commitment} ${leaf.revokes}`;
  return `offset ${leaf.commitment} ${leaf.amount} ${leaf.staff} ${JSON.stringify(leaf.reason)}`;
}

/** A record's commitment: hiding (the salt is 256 random bits) and binding to campaign and record. */
export function commitmentOf(campaignId, kind, recordId, salt) {
  return sha256Hex(`membership-drive receipt v1|${kind}|${campaignId}|${recordId}|${salt}`);
}

/** A receipt as given to members: `<record id>~<salt>`. */
export function parseReceipt(text) {
  const trimmed = String(text).trim();
  const at = trimmed.lastIndexOf('~');
  if (at <= 0) return null;
  const salt = trimmed.slice(at + 1).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(salt)) return null;
  return { recordId: trimmed.slice(0, at), salt };
}

/** MTH(D[n]) of RFC 6962 over leaf hashes. */
export async function treeHead(hashes) {
  if (hashes.length === 0) return sha256(new Uint8Array());
  // Bottom-up: pair neighbours; an odd one out is carried up unchanged (the same as RFC 6962's split).
  let level = hashes;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(await nodeHash(level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** RFC 9162 §2.1.3.2: does `path` lead from the leaf at `index` to `root` of a tree of `size`? */
export async function verifyInclusion(index, size, leaf, path, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/** RFC 9162 §2.1.4.2: does `path` prove the tree (first, firstRoot) is a prefix of (second, secondRoot)? */
export async function verifyConsistency(first, second, path, firstRoot, secondRoot) {
  if (first > second) return false;
  if (first === second) return path.length === 0 && equal(firstRoot, secondRoot);
  if (first === 0) return path.length === 0; // the empty tree is a prefix of every tree
  const proof = (first & (first - 1)) === 0 ? [firstRoot, ...path] : [...path];
  if (proof.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = proof[0];
  let sr = proof[0];
  for (const c of proof.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}

// A checkpoint (c2sp.org/tlog-checkpoint): origin, tree size, base64 root, then our extension lines:
// a line naming their format, then `name: value` lines in this order.
const FIELDS = [
  ['campaign', /^[0-9a-f]{24}$/],
  ['campaign_ends', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/],
  ['sequence', /^(0|[1-9]\d*)$/],
  ['additions', /^(0|[1-9]\d*)$/],
  ['revocations', /^(0|[1-9]\d*)$/],
  ['offset_claimed', /^(0|[1-9]\d*)$/],
  // A sign is read so that a negative count is reported as such, not as a format error.
  ['count', /^-?(0|[1-9]\d*)$/],
  ['time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/],
  ['previous', /^([0-9a-f]{64}|none)$/],
];
const NUMBERS = ['sequence', 'tree_size', 'additions', 'revocations', 'offset_claimed', 'count'];

/** A note key name or origin: non-empty, no Unicode space, no `+`. */
const isKeyName = (name) => typeof name === 'string' && name.length > 0 && !/[\s+]/u.test(name);

/** The signed text of a checkpoint, from its fields (`root` in base64, as signed). */
export function checkpointText(fields) {
  return `${[
    fields.origin,
    fields.tree_size,
    fields.root,
    FORMAT,
    ...FIELDS.map(([name]) => `${name}: ${fields[name]}`),
  ].join('\n')}\n`;
}

/** Reads a checkpoint's signed text strictly: exactly the format above, or null. */
export function parseCheckpointText(text) {
  const lines = String(text).split('\n');
  if (lines.length !== FIELDS.length + 5 || lines.at(-1) !== '') return null;
  const [origin, size, root, format] = lines;
  if (!isKeyName(origin) || !/^(0|[1-9]\d*)$/.test(size) || fromBase64(root)?.length !== 32) return null;
  if (format !== FORMAT) return null;
  const out = { origin, slug: origin.slice(origin.lastIndexOf('/') + 1), tree_size: size, root };
  for (let i = 0; i < FIELDS.length; i++) {
    const [name, pattern] = FIELDS[i];
    const prefix = `${name}: `;
    const line = lines[i + 4];
    if (!line.startsWith(prefix) || !pattern.test(line.slice(prefix.length))) return null;
    out[name] = line.slice(prefix.length);
  }
  for (const name of NUMBERS) out[name] = Number(out[name]);
  return out;
}

/**
 * Splits a signed note (c2sp.org/signed-note) into its text and signature lines, or null when it is
 * not one: text ending in a newline, a blank line, then lines `— <key name> base64(key id || sig)`.
 */
export function parseNote(note) {
  if (typeof note !== 'string') return null;
  // No ASCII control character but the newline (signed-note, "Format").
  for (let i = 0; i < note.length; i++) if (note.charCodeAt(i) < 0x20 && note[i] !== '\n') return null;
  if (typeof note.isWellFormed === 'function' && !note.isWellFormed()) return null; // not UTF-8
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return null;
  const [text, lines] = [note.slice(0, split + 1), note.slice(split + 2)];
  if (lines === '' || !lines.endsWith('\n')) return null;
  const signatures = [];
  for (const line of lines.slice(0, -1).split('\n')) {
    if (!line.startsWith('\u2014 ')) return null;
    const rest = line.slice(2);
    const space = rest.indexOf(' ');
    const [name, bytes] = [rest.slice(0, space), fromBase64(rest.slice(space + 1))];
    if (space < 0 || !isKeyName(name) || !bytes || bytes.length < 5) return null;
    signatures.push({ name, keyId: toHex(bytes.subarray(0, 4)), signature: bytes.subarray(4) });
  }
  return { text, signatures };
}

/** SHA-256(name || 0x0A || 0x01 || Ed25519 key)[:4], in hex: a note key's id. */
async function keyIdOf(name, key) {
  return toHex((await sha256(concat(encoder.encode(name), Uint8Array.of(0x0a, 0x01), key))).subarray(0, 4));
}

/**
 * Reads a verifier key `<name>+<hex key id>+base64(0x01 || Ed25519 key)`: { name, keyId, key }, the
 * key imported for WebCrypto, or null when it is not an Ed25519 vkey or its id does not match.
 */
export async function parseVkey(vkey) {
  const text = String(vkey);
  const [first, second] = [text.indexOf('+'), text.indexOf('+', text.indexOf('+') + 1)];
  if (first < 0 || second < 0) return null;
  const [name, keyId, material] = [
    text.slice(0, first),
    text.slice(first + 1, second),
    fromBase64(text.slice(second + 1)),
  ];
  if (!isKeyName(name) || !/^[0-9a-f]{8}$/.test(keyId) || material?.length !== 33 || material[0] !== 0x01)
    return null;
  const raw = material.subarray(1);
  if ((await keyIdOf(name, raw)) !== keyId) return null;
  const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  return { name, keyId, key };
}

/**
 * Checks a parsed note's signatures as signed-note requires: those of unknown keys are ignored,
 * every one by a known key (same name and id) must verify, and at least one must. Answers a problem,
 * or null when the note verifies.
 */
async function noteProblem(note, vkeys) {
  let verified = 0;
  for (const { name, keyId, signature } of note.signatures) {
    const known = vkeys.find((v) => v.name === name && v.keyId === keyId);
    if (!known) continue;
    let ok = false;
    try {
      ok = await crypto.subtle.verify({ name: 'Ed25519' }, known.key, signature, encoder.encode(note.text));
    } catch {
      ok = false;
    }
    if (!ok) return 'has a bad signature';
    verified++;
  }
  return verified > 0 ? null : 'is not signed by a published key of this log';
}

const COMMITMENT = /^[0-9a-f]{64}$/;

export const PROMISE_FORMAT = 'membership-drive promise v1';
const PROMISE_FIELDS = [
  ['origin', /^[^\s+]+$/],
  ['campaign', /^[0-9a-f]{24}$/],
  ['index', /^(0|[1-9]\d*)$/],
  ['leaf', /^[0-9a-f]{64}$/],
  ['time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/],
  ['merge_by', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/],
];

/** Reads a leaf promise's signed text strictly (src/campaigns/drive-log/promises.ts), or null. */
export function parsePromiseText(text) {
  const lines = String(text).split('\n');
  if (lines.length !== PROMISE_FIELDS.length + 2 || lines[0] !== PROMISE_FORMAT || lines.at(-1) !== '')
    return null;
  const out = {};
  for (let i = 0; i < PROMISE_FIELDS.length; i++) {
    const [name, pattern] = PROMISE_FIELDS[i];
    const prefix = `${name}: `;
    const line = lines[i + 1];
    if (!line.startsWith(prefix) || !pattern.test(line.slice(prefix.length))) return null;
    out[name] = line.slice(prefix.length);
  }
  out.index = Number(out.index);
  return out;
}

/**
 * What is wrong with leaf `index`'s promise, or null when the log's key signed that this leaf hash
 * is leaf `index` of this campaign's log, and the first checkpoint holding it came by `merge_by`.
 */
async function promiseProblem(leaf, index, hash, { vkeys, origin, campaign, checkpoints }) {
  const note = parseNote(leaf?.promise);
  const promised = note && parsePromiseText(note.text);
  if (!promised) return 'has no signed promise';
  if ((await noteProblem(note, vkeys)) !== null) return 'has a promise not signed by the log';
  if (promised.origin !== origin || promised.campaign !== campaign || promised.index !== index)
    return 'has a promise for another place';
  if (promised.leaf !== toHex(hash)) return 'is not the leaf its promise names';
  const merged = checkpoints.find((c) => c.tree_size > index);
  if (merged && merged.time > promised.merge_by) return 'was checkpointed later than its promise';
  return null;
}

/**
 * Counts over leaves, checking that each is of the public form (a SHA-256 commitment in lowercase
 * hex, `revokes` on revocations only), that no commitment appears twice (one record counted twice),
 * and that revocations are well-formed.
 */
function tallyLeaves(leaves, problems) {
  let additions = 0;
  let revocations = 0;
  const revoked = new Set();
  const seen = new Map();
  let offset = 0;
  let offsetLeaves = 0;
  const prefix = [{ additions: 0, revocations: 0, offset: 0, offsetLeaves: 0 }];
  leaves.forEach((leaf, i) => {
    if (typeof leaf?.commitment !== 'string' || !COMMITMENT.test(leaf.commitment))
      problems.push(`leaf ${i}: the commitment is not a SHA-256 in lowercase hex`);
    else if (seen.has(leaf.commitment))
      problems.push(`leaf ${i} repeats the commitment of leaf ${seen.get(leaf.commitment)}`);
    else seen.set(leaf.commitment, i);
    if (leaf?.index !== i) problems.push(`leaf ${i} says it is leaf ${leaf?.index}`);
    if (leaf?.kind === 'add' && leaf.revokes !== undefined) problems.push(`leaf ${i} adds and revokes`);
    if (leaf?.kind === 'offset') {
      // An offset leaf states a change of the offset: a whole amount, who (a SHA-256) and why.
      if (
        !Number.isSafeInteger(leaf.amount) ||
        typeof leaf.staff !== 'string' ||
        !COMMITMENT.test(leaf.staff) ||
        typeof leaf.reason !== 'string' ||
        leaf.reason.length === 0 ||
        leaf.reason.length > 200 ||
        /\p{Cc}/u.test(leaf.reason) ||
        leaf.revokes !== undefined
      )
        problems.push(`leaf ${i} is not a well-formed offset change`);
      else {
        offset += leaf.amount;
        offsetLeaves++;
        if (offset < 0) problems.push(`leaf ${i} makes the offset negative`);
      }
    } else if (leaf?.kind === 'add') additions++;
    else if (leaf.kind === 'revoke') {
      const target = leaves[leaf.revokes];
      if (!Number.isInteger(leaf.revokes) || leaf.revokes >= i || target?.kind !== 'add')
        problems.push(`leaf ${i} revokes ${leaf.revokes}, which is not an earlier addition`);
      else if (revoked.has(leaf.revokes)) problems.push(`leaf ${i} revokes addition ${leaf.revokes} again`);
      revoked.add(leaf.revokes);
      revocations++;
    } else problems.push(`leaf ${i} is of unknown kind`);
    prefix.push({ additions, revocations, offset, offsetLeaves });
  });
  return prefix;
}

/**
 * Verifies a campaign's log. `fetchJson(path)` answers the parsed JSON body, or `{ status }` with a
 * non-2xx status. Answers { ok, problems, checkpoints, latest, receipt } where receipt is undefined
 * (none given), 'verified', 'revoked' (included, then taken back by a refund), 'pending' (logged, not
 * yet in a signed checkpoint), 'not_found', 'invalid' (not a receipt) or 'unchecked' (the log failed).
 * `now`: the time to judge freshness by (a running campaign's latest checkpoint is at most 2 hours old).
 * `pinned`: checkpoints seen before, `[{ sequence, hash }]`, that must still be published unchanged.
 */
export async function verifyDrive({
  fetchJson,
  slug,
  receipt,
  pinned = [],
  now = new Date(),
  onProgress = () => {},
}) {
  const problems = [];
  const base = `/campaigns/${encodeURIComponent(slug)}/transparency`;
  onProgress('Fetching the public keys and checkpoints');
  // The log's identity: its origin (`<host>/drive/<slug>`, the checkpoints' first line) and its keys.
  const published = await fetchJson(`${base}/vkeys`);
  const origin = typeof published?.origin === 'string' ? published.origin : '';
  if (!origin.endsWith(`/drive/${slug}`))
    problems.push(`the log's origin (${origin || 'none'}) is not that of campaign ${slug}`);
  const vkeys = [];
  for (const vkey of Array.isArray(published?.vkeys) ? published.vkeys : []) {
    const parsedKey = await parseVkey(vkey);
    if (parsedKey?.name === origin) vkeys.push(parsedKey);
    else problems.push(`the verifier key ${String(vkey).slice(0, 40)}… is not one of this log`);
  }
  if (vkeys.length === 0) problems.push('the log publishes no verifier key');
  const listed = await fetchJson(`${base}/checkpoints`);
  const checkpoints = Array.isArray(listed?.checkpoints) ? listed.checkpoints : [];
  if (checkpoints.length === 0) problems.push('no checkpoints are published');

  onProgress('Checking signatures and the chain');
  const parsed = [];
  let previousHash = 'none';
  for (const [i, checkpoint] of checkpoints.entries()) {
    const note = parseNote(checkpoint?.note);
    const fields = note && parseCheckpointText(note.text);
    if (!fields) {
      problems.push(`checkpoint ${i} is not a signed checkpoint note`);
      break;
    }
    const unsigned = await noteProblem(note, vkeys);
    if (unsigned) problems.push(`checkpoint ${i} ${unsigned}`);
    // A checkpoint of another log (another campaign, another newsroom) proves nothing about this one.
    if (fields.origin !== origin) problems.push(`checkpoint ${i} is of another log (${fields.origin})`);
    if (fields.count < 0) problems.push(`checkpoint ${i}: the count is negative`);
    // The listed fields are for convenience; the signed body is what counts, and they must agree.
    if (checkpoint.count !== fields.count || checkpoint.treeSize !== fields.tree_size)
      problems.push(`checkpoint ${i}: the listed count or size differs from the signed one`);
    if (fields.sequence !== i) problems.push(`checkpoint ${i} says it is number ${fields.sequence}`);
    if (fields.previous !== previousHash) problems.push(`checkpoint ${i} does not name the one before it`);
    if (fields.count !== fields.offset_claimed + fields.additions - fields.revocations)
      problems.push(`checkpoint ${i}: count is not offset + additions − revocations`);
    const before = parsed.at(-1);
    if (before) {
      if (fields.campaign !== before.campaign) problems.push(`checkpoint ${i} is for another campaign`);
      if (fields.tree_size < before.tree_size) problems.push(`checkpoint ${i}: the log shrank`);
      if (fields.time < before.time) problems.push(`checkpoint ${i} is older than the one before`);
    }
    previousHash = await sha256Hex(note.text);
    if (checkpoint.hash !== undefined && checkpoint.hash !== previousHash)
      problems.push(`checkpoint ${i}: the listed hash is not its note text's`);
    parsed.push({ ...fields, hash: previousHash });
  }
  // A checkpoint this reader saw before (its sequence and hash) must still be there, unchanged: a
  // log that rewrote its history, even re-signing all of it, cannot pass this.
  for (const pin of pinned) {
    if (parsed[pin.sequence]?.hash !== pin.hash)
      problems.push(`checkpoint ${pin.sequence} is not the one seen before (${pin.hash.slice(0, 12)}…)`);
  }
  const latest = parsed.at(-1);
  // While a campaign runs a checkpoint is signed at least hourly: an older latest one means the
  // service stopped signing, or withholds newer checkpoints.
  if (latest) {
    const age = now.getTime() - Date.parse(latest.time);
    if (Date.parse(latest.time) < Date.parse(latest.campaign_ends) && age > STALE_MS)
      problems.push(
        `the latest checkpoint is ${Math.floor(age / 60_000)} minutes old while the campaign runs`,
      );
  }
  const result = { ok: false, problems, checkpoints: parsed, latest, receipt: undefined };
  if (!latest || problems.length > 0) return finish(result, receipt);

  onProgress('Checking that each checkpoint extends the one before');
  for (let i = 1; i < parsed.length; i++) {
    const [a, b] = [parsed[i - 1], parsed[i]];
    const proof = await fetchJson(`${base}/consistency?first=${a.tree_size}&second=${b.tree_size}`);
    const path = Array.isArray(proof?.path) ? proof.path.map(fromHex) : null;
    if (
      !path ||
      !(await verifyConsistency(a.tree_size, b.tree_size, path, fromBase64(a.root), fromBase64(b.root)))
    )
      problems.push(`checkpoint ${i} is not consistent with checkpoint ${i - 1}`);
  }

  onProgress(`Recomputing the root from ${latest.tree_size} leaves`);
  const leaves = [];
  while (leaves.length < latest.tree_size) {
    const page = await fetchJson(`${base}/leaves?start=${leaves.length}&end=${latest.tree_size}`);
    if (!Array.isArray(page?.leaves) || page.leaves.length === 0) {
      problems.push('the leaves could not be fetched');
      return finish(result, receipt);
    }
    leaves.push(...page.leaves);
  }
  leaves.length = latest.tree_size;
  const hashes = [];
  for (const leaf of leaves) hashes.push(await leafHash(leafDataOf(leaf)));
  const context = { vkeys, origin, campaign: latest.campaign, checkpoints: parsed };
  for (const [i, leaf] of leaves.entries()) {
    const problem = await promiseProblem(leaf, i, hashes[i], context);
    if (problem) problems.push(`leaf ${i} ${problem}`);
  }
  if (toBase64(await treeHead(hashes)) !== latest.root)
    problems.push('the leaves do not hash to the signed root');
  const prefix = tallyLeaves(leaves, problems);
  // The offset a checkpoint states is its leaves' sum; one signed before the first offset leaf (an
  // older log) must claim what that leaf states, so the offset stayed until it became a leaf.
  const firstOffset = leaves.find((leaf) => leaf?.kind === 'offset');
  for (const [i, fields] of parsed.entries()) {
    const counted = prefix[fields.tree_size];
    if (counted.additions !== fields.additions || counted.revocations !== fields.revocations)
      problems.push(`checkpoint ${i}: additions or revocations differ from its leaves`);
    const offset =
      counted.offsetLeaves > 0
        ? counted.offset
        : Number.isSafeInteger(firstOffset?.amount)
          ? firstOffset.amount
          : 0;
    if (fields.offset_claimed !== offset)
      problems.push(
        `checkpoint ${i}: the offset (${fields.offset_claimed}) is not what the offset leaves state (${offset})`,
      );
  }
  // Each offset change as readers are shown it: when the log took it (its promise's signed time)
  // and the first checkpoint holding it, beside what the leaf states.
  result.offsets = leaves
    .filter((leaf) => leaf?.kind === 'offset')
    .map(({ index, amount, staff, reason, promise }) => {
      const note = parseNote(promise);
      return {
        index,
        amount,
        staff,
        reason,
        time: (note && parsePromiseText(note.text)?.time) ?? null,
        checkpoint: parsed.find((c) => c.tree_size > index)?.sequence ?? null,
      };
    });
  result.ok = problems.length === 0;
  result.leaves = leaves;
  return finish(result, receipt, { fetchJson, base, latest, leaves });
}

async function finish(result, receipt, context) {
  if (receipt === undefined || receipt === null || receipt === '') return result;
  const parsed = parseReceipt(receipt);
  if (!parsed) {
    result.receipt = 'invalid';
    return result;
  }
  if (!context || !result.ok) {
    result.receipt = 'unchecked'; // the log itself did not verify: nothing to check it against
    return result;
  }
  const { fetchJson, base, latest, leaves } = context;
  const commitment = await commitmentOf(latest.campaign, 'add', parsed.recordId, parsed.salt);
  const proof = await fetchJson(`${base}/inclusion?commitment=${commitment}&treeSize=${latest.tree_size}`);
  if (proof?.status === 409) {
    result.receipt = 'pending';
    return result;
  }
  if (!proof || proof.status || !Array.isArray(proof.path)) {
    result.receipt = 'not_found';
    return result;
  }
  const leaf = await leafHash(`add ${commitment}`);
  const included = await verifyInclusion(
    proof.index,
    latest.tree_size,
    leaf,
    proof.path.map(fromHex),
    fromBase64(latest.root),
  );
  if (!included) {
    result.receipt = 'not_found';
    result.problems.push('the inclusion proof for the receipt does not verify');
    result.ok = false;
    return result;
  }
  result.receiptIndex = proof.index;
  result.receipt = leaves.some((l) => l.kind === 'revoke' && l.revokes === proof.index)
    ? 'revoked'
    : 'verified';
  return result;
}

// ---------------------------------------------------------------------------------------------
// A verifier with memory. `verifyDrive` alone trusts what the service publishes today: its keys and
// its whole history. A reader who remembers what they verified last time (the keys, and the newest
// checkpoint's size, root and note hash) notices what a stateless check cannot: the log shrinking
// (rollback), two different trees for one history (fork, split view) and checkpoints signed by a key
// they never pinned. The threat model: src/campaigns/drive-log/README.md.

/**
 * Why a verifier with memory refuses a log, from the most to the least fundamental. `broken_promise`:
 * a member's signed promise (a leaf at an index, by `merge_by`) that the log did not keep.
 */
export const REFUSALS = ['key_change', 'fork', 'rollback', 'broken_promise', 'witnesses'];

/** The vkeys among `vkeys` (strings) that carry a good signature on `note` (parsed). */
async function keysSigning(note, vkeys) {
  const signing = [];
  for (const vkey of vkeys) {
    const parsedKey = await parseVkey(vkey);
    if (!parsedKey) continue;
    const line = note.signatures.find((s) => s.name === parsedKey.name && s.keyId === parsedKey.keyId);
    if (!line) continue;
    try {
      if (
        await crypto.subtle.verify(
          { name: 'Ed25519' },
          parsedKey.key,
          line.signature,
          encoder.encode(note.text),
        )
      )
        signing.push(vkey);
    } catch {
      // not a valid signature
    }
  }
  return signing;
}

const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * `verifyDrive`, then the reader's memory. `memory` is what the last fully successful run answered
 * (undefined on first use): { origin, vkeys, checkpoint: { sequence, size, root, noteHash } }.
 * `keys`: vkeys the reader gives (they must then sign the newest checkpoint and, if keys are pinned
 * already, be those). `acceptKeyChange`: re-pin to the keys given, or else to the published ones
 * that sign the newest checkpoint (the reader was told of a new key); the history must still extend
 * the remembered checkpoint. `witnesses` (cosignature/v1 vkeys) and `witnessesRequired` (k): at
 * least k of them must have validly cosigned the newest checkpoint, or it is refused ('witnesses').
 * The cosignatures found are answered as `cosignatures`.
 * Answers verifyDrive's result with `refusal` (null or one of REFUSALS), its problems added,
 * `remembered`: the checkpoint verified last time (undefined on first use), so what changed since
 * (offset changes) can be shown as such, and `memory`: what to remember, set only when everything
 * verified.
 */
export async function verifyDriveWithMemory({
  memory,
  keys = [],
  acceptKeyChange = false,
  witnesses = [],
  witnessesRequired = 0,
  promise,
  ...options
}) {
  // What verifyDrive is shown is what is judged here: the service cannot answer one thing to the
  // stateless check and another to this one.
  const seen = new Map();
  const fetchJson = async (path) => {
    const body = await options.fetchJson(path);
    seen.set(path.split('?')[0], body);
    return body;
  };
  const result = await verifyDrive({ ...options, fetchJson });
  result.refusal = null;
  result.memory = undefined;
  const latest = result.latest;
  if (!latest) return result;
  // Memory is looked up by the log's origin when the caller does not know it yet (a first visit
  // to this address of a log already known from another).
  const known = typeof memory === 'function' ? memory(latest.origin) : memory;
  const refuse = (refusal, problem) => {
    result.problems.push(problem);
    if (!result.refusal || REFUSALS.indexOf(refusal) < REFUSALS.indexOf(result.refusal))
      result.refusal = refusal;
    result.ok = false;
  };
  const base = `/campaigns/${encodeURIComponent(options.slug)}/transparency`;
  const listed = seen.get(`${base}/checkpoints`)?.checkpoints ?? [];
  const note = parseNote(listed[result.checkpoints.length - 1]?.note);
  const published = Array.isArray(seen.get(`${base}/vkeys`)?.vkeys) ? seen.get(`${base}/vkeys`).vkeys : [];

  // 1. The keys. The newest checkpoint must carry a good signature by a pinned key: the chain of
  //    `previous` hashes then binds every earlier one to it.
  const given = keys.map(String);
  const remembered = known?.vkeys ?? [];
  let pins;
  if (known && known.origin !== latest.origin && !acceptKeyChange) {
    refuse('key_change', `this log now names itself ${latest.origin}; it was ${known.origin}`);
  } else if (known && !acceptKeyChange) {
    pins = remembered;
    if (given.length > 0 && !sameSet(given, remembered))
      refuse('key_change', 'the keys given are not the ones pinned for this log');
  } else if (given.length > 0) {
    pins = given;
  } else {
    pins = note ? await keysSigning(note, published) : [];
  }
  if (pins) {
    const signing = note ? await keysSigning(note, pins) : [];
    if (signing.length === 0)
      refuse(
        'key_change',
        `checkpoint ${latest.sequence} is not signed by a pinned key of this log (${pins.map((k) => k.split('+').slice(0, 2).join('+')).join(', ') || 'none'})`,
      );
  }

  // 2. The history. The newest checkpoint must extend the one verified last time.
  const last = known?.origin === latest.origin ? known.checkpoint : undefined;
  // What this reader saw last, so offset changes since can be shown as such.
  result.remembered = last;
  if (last && result.refusal !== 'key_change') {
    if (latest.tree_size < last.size || latest.sequence < last.sequence)
      refuse(
        'rollback',
        `the log went back: its newest checkpoint is number ${latest.sequence} of ${latest.tree_size} entries; number ${last.sequence} of ${last.size} entries was verified before`,
      );
    else if (latest.tree_size === last.size && latest.root !== last.root)
      refuse('fork', `a different tree of ${last.size} entries was verified before: the log forked`);
    else if (latest.tree_size > last.size) {
      const proof = await options.fetchJson(
        `${base}/consistency?first=${last.size}&second=${latest.tree_size}`,
      );
      let path = null;
      try {
        path = Array.isArray(proof?.path) ? proof.path.map(fromHex) : null;
      } catch {
        path = null;
      }
      const first = fromBase64(last.root);
      if (
        !path ||
        !first ||
        !(await verifyConsistency(last.size, latest.tree_size, path, first, fromBase64(latest.root)))
      )
        refuse(
          'fork',
          `the log of ${latest.tree_size} entries does not extend the one of ${last.size} verified before: the log forked`,
        );
    }
    // The same tree under another note (its count or time re-signed) is a fork of the history too.
    if (
      !result.refusal &&
      result.checkpoints[last.sequence] &&
      result.checkpoints[last.sequence].hash !== last.noteHash
    )
      refuse('fork', `checkpoint ${last.sequence} is not the one verified before: the history was rewritten`);
  }

  // 3. The member's promise, judged with the keys pinned (or, on first use, published).
  if (promise !== undefined && promise !== null && promise !== '') {
    const judged = await checkPromise(result, promise, {
      keys: pins ?? published,
      receipt: options.receipt,
      now: options.now ?? new Date(),
    });
    result.promise = judged.status;
    result.promiseIndex = judged.index;
    result.promiseMergeBy = judged.mergeBy;
    if (judged.status === 'broken') refuse('broken_promise', judged.problem);
    else if (judged.problem) {
      result.problems.push(judged.problem);
      result.ok = false;
    }
  }

  // 4. Witnesses: k of the n given must have cosigned the newest checkpoint (c2sp.org/tlog-witness),
  //    so this reader sees the tree that others, checking the same witnesses, see too.
  if (witnessesRequired > 0) {
    const { cosigned, problems } = await checkCosignatures(note, witnesses);
    result.problems.push(...problems);
    result.cosignatures = cosigned;
    if (cosigned.length < witnessesRequired)
      refuse(
        'witnesses',
        `checkpoint ${latest.sequence} is cosigned by ${cosigned.length} of the ${witnesses.length} witnesses given; ${witnessesRequired} required`,
      );
  }

  // A receipt checked against a tree this reader refuses proves nothing.
  if (result.refusal && ['verified', 'revoked', 'pending', 'not_found'].includes(result.receipt))
    result.receipt = 'unchecked';
  if (result.ok && pins)
    result.memory = {
      origin: latest.origin,
      vkeys: pins,
      checkpoint: {
        sequence: latest.sequence,
        size: latest.tree_size,
        root: latest.root,
        noteHash: latest.hash,
        count: latest.count,
        time: latest.time,
      },
    };
  return result;
}

// ---------------------------------------------------------------------------------------------
// Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1). A witness that checked
// a checkpoint is consistent with everything it saw of the log before adds a note signature line
// `— <witness name> base64(key id || u64 timestamp || Ed25519 signature)` over
// "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint's note text. Its vkey has
// signature type 0x04, and its key id is SHA-256(name || 0x0A || 0x04 || public key)[:4].

/** The signature type byte of Ed25519 cosignature/v1. */
export const COSIGNATURE_V1 = 0x04;

/** What a cosignature/v1 signs: the header line, the time line, then the note text. */
export function cosignedMessage(text, timestamp) {
  return `cosignature/v1\ntime ${timestamp}\n${text}`;
}

/** A witness vkey `<name>+<hex key id>+base64(0x04 || Ed25519 key)`: { name, keyId, key } or null. */
export async function parseCosignerVkey(vkey) {
  const parts = String(vkey).split('+');
  if (parts.length < 3) return null;
  const [name, keyId, encoded] = [parts[0], parts[1], parts.slice(2).join('+')];
  const material = fromBase64(encoded);
  if (!isKeyName(name) || !/^[0-9a-f]{8}$/.test(keyId) || material?.length !== 33) return null;
  if (material[0] !== COSIGNATURE_V1) return null;
  const raw = material.subarray(1);
  const id = (await sha256(concat(encoder.encode(name), Uint8Array.of(0x0a, COSIGNATURE_V1), raw))).subarray(
    0,
    4,
  );
  if (toHex(id) !== keyId) return null;
  const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  return { name, keyId, key };
}

/**
 * The cosignatures on a parsed note (parseNote) by the witnesses given (vkeys): `cosigned` lists
 * each witness with a valid one ({ vkey, name, time }), `problems` each line by a given witness
 * that does not verify. Lines of other keys are ignored, as signed-note says.
 */
export async function checkCosignatures(note, witnessVkeys) {
  const cosigned = [];
  const problems = [];
  for (const vkey of witnessVkeys) {
    const witness = await parseCosignerVkey(vkey);
    if (!witness) {
      problems.push(`${String(vkey).slice(0, 40)}… is not a cosignature/v1 witness key`);
      continue;
    }
    for (const line of note?.signatures ?? []) {
      if (line.name !== witness.name || line.keyId !== witness.keyId) continue;
      const sig = line.signature;
      const timestamp = sig.length === 72 ? new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0) : 0n;
      let ok = false;
      if (timestamp > 0n && timestamp < 2n ** 63n) {
        const message = encoder.encode(cosignedMessage(note.text, timestamp));
        ok = await crypto.subtle
          .verify({ name: 'Ed25519' }, witness.key, sig.subarray(8), message)
          .catch(() => false);
      }
      if (!ok) problems.push(`the cosignature of witness ${witness.name} does not verify`);
      else if (!cosigned.some((c) => c.vkey === vkey))
        cosigned.push({ vkey, name: witness.name, time: new Date(Number(timestamp) * 1000).toISOString() });
    }
  }
  return { cosigned, problems };
}

/**
 * A member's signed promise (a C2SP signed note, src/campaigns/drive-log/promises.ts) judged against
 * a verified log: by `merge_by` a checkpoint must hold the promised leaf hash at the promised index.
 * `result` is what verifyDrive answered (its `checkpoints`, `latest` and `leaves`), `keys` the vkeys
 * (strings) the promise must be signed by, `receipt` (optional) the receipt it must be the leaf of.
 * Answers { status, problem?, index?, mergeBy? }: 'kept' (in a checkpoint, in time), 'pending' (not
 * yet in one, merge_by still ahead), 'broken' (another leaf holds its place, it came late, or
 * merge_by passed with no checkpoint holding it: the leaf was dropped), 'invalid' (not a promise of
 * this log, or not for this receipt) or 'unchecked' (the log itself did not verify).
 */
export async function checkPromise(result, promiseNote, { keys, receipt, now = new Date() }) {
  const note = parseNote(String(promiseNote).replace(/\r\n/g, '\n'));
  const promised = note && parsePromiseText(note.text);
  if (!promised) return { status: 'invalid', problem: 'the promise given is not a signed leaf promise' };
  const { index, merge_by: mergeBy } = promised;
  const latest = result.latest;
  if (!latest) return { status: 'unchecked', index, mergeBy };
  if (promised.origin !== latest.origin || promised.campaign !== latest.campaign)
    return {
      status: 'invalid',
      index,
      mergeBy,
      problem: `the promise is for another log (${promised.origin})`,
    };
  if ((await keysSigning(note, keys)).length === 0)
    return { status: 'invalid', index, mergeBy, problem: 'the promise is not signed by a key of this log' };
  const parsed = receipt ? parseReceipt(receipt) : null;
  if (parsed) {
    const commitment = await commitmentOf(promised.campaign, 'add', parsed.recordId, parsed.salt);
    if (toHex(await leafHash(`add ${commitment}`)) !== promised.leaf)
      return { status: 'invalid', index, mergeBy, problem: 'the promise is not the one of this receipt' };
  }
  const merged = result.checkpoints.find((c) => c.tree_size > index);
  if (!merged) {
    if (now.toISOString() <= mergeBy) return { status: 'pending', index, mergeBy };
    return {
      status: 'broken',
      index,
      mergeBy,
      problem: `the log promised leaf ${index} (${promised.leaf.slice(0, 12)}…) by ${mergeBy}, and no checkpoint holds it: the promised leaf was dropped`,
    };
  }
  const leaf = result.leaves?.[index];
  if (!leaf) return { status: 'unchecked', index, mergeBy };
  if (toHex(await leafHash(leafDataOf(leaf))) !== promised.leaf)
    return {
      status: 'broken',
      index,
      mergeBy,
      problem: `the log promised leaf ${index} (${promised.leaf.slice(0, 12)}…) by ${mergeBy}, and checkpoint ${merged.sequence} holds another leaf there: the promised leaf was dropped`,
    };
  if (merged.time > mergeBy)
    return {
      status: 'broken',
      index,
      mergeBy,
      problem: `the log promised leaf ${index} by ${mergeBy}; the first checkpoint holding it was signed at ${merged.time}`,
    };
  return { status: 'kept', index, mergeBy };
}
