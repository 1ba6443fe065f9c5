#!/usr/bin/env node
// Checks a membership drive's published count, and optionally your receipt, from the public API
// alone. Node built-ins only (fetch, WebCrypto): no install, nothing to trust but this file.
//
//   node bin/verify-drive.mjs https://members.example.org birthday [receipt] [options]
//   npm run verify-drive -- https://members.example.org birthday [receipt]   (in a clone; the
//   package's "bin" entry makes it npx-able from the repository)
//
// It remembers, per log, the keys it pinned and the newest checkpoint it verified, and refuses a
// log that went back, forked or changed its key since (src/campaigns/drive-log/README.md).
//
// Options: --state <file>           where that memory is kept (default: $XDG_STATE_HOME or
//                                   ~/.local/state, then membership-drive/verify-state.json)
//          --no-state               remember nothing, compare with nothing (a one-off check)
//          --key <vkey>             the log's verifier key, as the newsroom announced it; pinned
//                                   on first use, and must match the pinned one after; repeatable
//          --accept-key-change      re-pin: to the --key given, or to the published key signing
//                                   the newest checkpoint (only after the newsroom announced it)
//          --pin <sequence>:<hash>  a checkpoint you saw before (printed by every run) must still be
//                                   published unchanged; repeatable
//          --at <ISO time>          judge the hourly-checkpoint promise as of this time (default: now)
//          --witness <vkey>         a witness (c2sp.org/tlog-witness) whose cosignature counts;
//                                   repeatable
//          --witnesses-required <k> how many of the --witness keys must have cosigned the newest
//                                   checkpoint (default: all of them)
//          --promise <file>         the log's signed promise for your leaf (account page): by its
//                                   merge_by, a checkpoint must hold that leaf at that index
//
// Exit 0: the log and the count verify (and the receipt, if given, is in it); 1: something does
// not verify (each problem is printed); 2: bad arguments, the service could not be reached or the
// state file could not be read or written; 3: the log went back (rollback); 4: the log forked (a
// different tree than the one verified before); 5: the newest checkpoint is not signed by a pinned
// key (or the log renamed itself); 6: fewer than k of the given witnesses cosigned the newest
// checkpoint; 7: the log broke the promise given with --promise (the leaf is not where it promised
// by merge_by: it was dropped). The state file is only written after a run that exits 0.
//
// The starting offset and each change to it are entries of the log: they are printed (since the
// checkpoint remembered, or all on a first check) with amount, reason, date and hashed staff id. A
// change is legitimate but visible: it does not change the exit code.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseCosignerVkey, verifyDriveWithMemory } from './drive-verify-core.mjs';

const EXIT = {
  ok: 0,
  problems: 1,
  usage: 2,
  rollback: 3,
  fork: 4,
  key_change: 5,
  witnesses: 6,
  broken_promise: 7,
};
const USAGE =
  'usage: verify-drive <service URL> <campaign slug> [receipt] [--state FILE | --no-state] [--key VKEY]… [--accept-key-change] [--pin n:hash] [--at ISO time] [--witness VKEY]… [--witnesses-required K] [--promise FILE]';

function defaultStatePath() {
  const env = process.env;
  const root =
    env.XDG_STATE_HOME ||
    (process.platform === 'win32' && env.LOCALAPPDATA) ||
    join(homedir(), '.local', 'state');
  return join(root, 'membership-drive', 'verify-state.json');
}

const positional = [];
const pinned = [];
const keys = [];
const witnesses = [];
let witnessesRequired;
let now = new Date();
let statePath = defaultStatePath();
let acceptKeyChange = false;
let promisePath;
let usageError = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const value = () => {
    if (i + 1 >= args.length) usageError = true;
    return String(args[++i]);
  };
  if (args[i] === '--pin') {
    const [sequence, hash] = value().split(':');
    pinned.push({ sequence: Number(sequence), hash });
  } else if (args[i] === '--at') now = new Date(value());
  else if (args[i] === '--state') statePath = value();
  else if (args[i] === '--no-state') statePath = null;
  else if (args[i] === '--key') keys.push(value());
  else if (args[i] === '--accept-key-change') acceptKeyChange = true;
  else if (args[i] === '--witness') witnesses.push(value());
  else if (args[i] === '--witnesses-required') witnessesRequired = Number(value());
  else if (args[i] === '--promise') promisePath = value();
  else if (args[i].startsWith('--')) usageError = true;
  else positional.push(args[i]);
}
const [base, slug, receipt] = positional;
witnessesRequired ??= witnesses.length;
const badWitnesses =
  !Number.isInteger(witnessesRequired) || witnessesRequired < 0 || witnessesRequired > witnesses.length;
if (
  usageError ||
  badWitnesses ||
  !base ||
  !slug ||
  !/^https?:\/\//.test(base) ||
  Number.isNaN(now.getTime())
) {
  console.error(USAGE);
  process.exit(EXIT.usage);
}
for (const vkey of witnesses)
  if (!(await parseCosignerVkey(vkey))) {
    console.error(`--witness ${vkey}: not a witness key (<name>+<key id>+base64(0x04 || Ed25519 key))`);
    process.exit(EXIT.usage);
  }

async function fetchJson(path) {
  const response = await fetch(new URL(path, base), { headers: { accept: 'application/json' } });
  if (!response.ok) return { status: response.status };
  return response.json();
}

/** The state file: { version: 1, logs: { <origin>: memory }, addresses: { <campaign URL>: origin } }. */
async function readState() {
  if (!statePath) return { version: 1, logs: {}, addresses: {} };
  let text;
  try {
    text = await readFile(statePath, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return { version: 1, logs: {}, addresses: {} };
    throw error;
  }
  const state = JSON.parse(text);
  if (state?.version !== 1 || typeof state.logs !== 'object' || typeof state.addresses !== 'object')
    throw new Error(`${statePath} is not a verify-drive state file`);
  return state;
}

// Written whole to a temporary file and renamed over the old one: a crash or a full disk leaves the
// previous memory, never half of one.
async function writeState(state) {
  await mkdir(dirname(statePath), { recursive: true });
  const temporary = `${statePath}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, statePath);
}

const HINT = {
  rollback:
    'REFUSED: rollback. The log is smaller or older than one this verifier checked before: the service went back in time (a restore, or hiding entries).',
  fork: 'REFUSED: fork. The log is not an extension of the one this verifier checked before: its history was rewritten, or different readers are shown different logs.',
  broken_promise:
    'REFUSED: broken promise. The log signed a promise that your entry would be in a checkpoint at its place by merge_by, and it is not: keep the promise file, it is signed evidence against the newsroom.',
  key_change:
    'REFUSED: key change. The newest checkpoint is not signed by a key this verifier pinned. If the newsroom announced a new key, check the announcement, then run again with --accept-key-change (and --key <the announced vkey>).',
  witnesses:
    'REFUSED: witnesses. Too few of the witnesses you named cosigned the newest checkpoint: nobody independent has confirmed that others are shown this same log. A checkpoint minutes old may still be waiting for them: try again later.',
};

// Offset text comes from the log: shown without control or format characters (terminal escapes,
// bidirectional overrides), which a reason could otherwise smuggle onto the reader's terminal.
const plain = (text) => String(text).replace(/\p{C}/gu, '\uFFFD');
const signed = (amount) => (Number(amount) < 0 ? `−${-Number(amount)}` : `+${Number(amount)}`);

/**
 * The offset entries: every change since the checkpoint this reader verified last, marked as such
 * (legitimate, but the count moved by the newsroom's word, not by members); on a first check, all.
 */
function printOffsets(offsets, remembered) {
  if (!offsets) return; // the log did not verify far enough to read its leaves
  if (offsets.length === 0) return;
  const since = remembered ? offsets.filter((o) => o.index >= remembered.size) : offsets;
  if (remembered && since.length === 0) {
    console.log(`offset changes: none since the checkpoint you last saw (number ${remembered.sequence})`);
    return;
  }
  console.log(
    remembered
      ? `Offset changes since the checkpoint you last saw (number ${remembered.sequence}, ${remembered.size} entries):`
      : `offset entries: ${since.length} (the starting offset and each change to it):`,
  );
  for (const o of since)
    console.log(
      `  ${signed(o.amount)} (reason: ${JSON.stringify(plain(o.reason))}) on ${o.time ?? 'an unknown date'}, by staff ${plain(o.staff)}, entry ${o.index}${o.checkpoint === null ? '' : `, checkpoint ${o.checkpoint}`}`,
    );
}

try {
  const state = await readState();
  let promise;
  if (promisePath) {
    try {
      promise = await readFile(promisePath, 'utf8');
    } catch (error) {
      throw new Error(`the promise file cannot be read (${error.code ?? error.message})`);
    }
  }
  const address = new URL(`/campaigns/${encodeURIComponent(slug)}`, base).href;
  const knownOrigin = state.addresses[address];
  const result = await verifyDriveWithMemory({
    fetchJson,
    slug,
    receipt,
    pinned,
    now,
    keys,
    acceptKeyChange,
    witnesses,
    witnessesRequired,
    promise,
    // An address seen before answers for the log it named then; a new one, for the log it names.
    memory: knownOrigin ? state.logs[knownOrigin] : (origin) => state.logs[origin],
    onProgress: (step) => console.error(`… ${step}`),
  });
  const latest = result.latest;
  if (latest) {
    const last = state.logs[latest.origin]?.checkpoint;
    console.log(`log:           ${latest.origin}`);
    console.log(
      `checkpoints:   ${result.checkpoints.length}, latest number ${latest.sequence} at ${latest.time}`,
    );
    console.log(`log entries:   ${latest.tree_size} (root ${latest.root})`);
    console.log(`proven:        ${latest.additions} counted − ${latest.revocations} taken back`);
    console.log(
      `offset:        ${latest.offset_claimed} (${result.offsets ? "the sum of the log's offset entries" : 'as the checkpoint states; its entries could not be checked'})`,
    );
    printOffsets(result.offsets, result.remembered);
    console.log(`count:         ${latest.count}`);
    console.log(`pin it:        --pin ${latest.sequence}:${latest.hash}`);
    if (statePath)
      console.log(
        `remembered:    ${last ? `number ${last.sequence}, ${last.size} entries` : 'nothing yet (first use: keys are pinned now)'}`,
      );
  }
  if (witnessesRequired > 0)
    console.log(
      `witnesses:     ${(result.cosignatures ?? []).map((c) => `${c.name} at ${c.time}`).join(', ') || 'none'} (${witnessesRequired} of ${witnesses.length} required)`,
    );
  if (receipt !== undefined) console.log(`receipt:       ${result.receipt}`);
  if (promise !== undefined)
    console.log(
      `promise:       ${result.promise ?? 'unchecked'}${result.promiseIndex === undefined ? '' : ` (leaf ${result.promiseIndex}, merge by ${result.promiseMergeBy})`}`,
    );
  for (const problem of result.problems) console.log(`PROBLEM: ${problem}`);
  if (result.refusal) {
    console.log(HINT[result.refusal]);
    process.exit(EXIT[result.refusal]);
  }
  const ok = result.ok && (receipt === undefined || result.receipt === 'verified');
  if (ok && statePath && result.memory) {
    state.logs[result.memory.origin] = { ...result.memory, verifiedAt: new Date().toISOString() };
    state.addresses[address] = result.memory.origin;
    await writeState(state);
    console.log(`state:         ${statePath}`);
  }
  console.log(result.ok ? 'verified' : 'NOT verified');
  process.exit(ok ? EXIT.ok : EXIT.problems);
} catch (error) {
  console.error(`could not check: ${error.message}`);
  process.exit(EXIT.usage);
}
