#!/usr/bin/env node
// Checks a membership drive's published count, and optionally your receipt, from the public API
// alone. Node built-ins only (fetch, WebCrypto): no install, nothing to trust but this file.
//
//   node bin/verify-drive.mjs https://members.example.org birthday [receipt] [options]
//   npm run verify-drive -- https://members.example.org birthday [receipt]   (in a clone; the
//   package's "bin" entry makes it npx-able from the repository)
//
// Options: --pin <sequence>:<hash>  a checkpoint you saw before (printed by every run) must still be
//                                   published unchanged; repeatable
//          --at <ISO time>          judge the hourly-checkpoint promise as of this time (default: now)
//
// Exit 0: the log and the count verify (and the receipt, if given, is in it); 1: something does
// not verify (each problem is printed); 2: bad arguments or the service could not be reached.

import { verifyDrive } from './drive-verify-core.mjs';

const positional = [];
const pinned = [];
let now = new Date();
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--pin') {
    const [sequence, hash] = String(args[++i]).split(':');
    pinned.push({ sequence: Number(sequence), hash });
  } else if (args[i] === '--at') now = new Date(args[++i]);
  else positional.push(args[i]);
}
const [base, slug, receipt] = positional;
if (!base || !slug || !/^https?:\/\//.test(base) || Number.isNaN(now.getTime())) {
  console.error('usage: verify-drive <service URL> <campaign slug> [receipt] [--pin n:hash] [--at ISO time]');
  process.exit(2);
}

async function fetchJson(path) {
  const response = await fetch(new URL(path, base), { headers: { accept: 'application/json' } });
  if (!response.ok) return { status: response.status };
  return response.json();
}

try {
  const result = await verifyDrive({
    fetchJson,
    slug,
    receipt,
    pinned,
    now,
    onProgress: (step) => console.error(`… ${step}`),
  });
  const latest = result.latest;
  if (latest) {
    console.log(`log:           ${latest.origin}`);
    console.log(
      `checkpoints:   ${result.checkpoints.length}, latest number ${latest.sequence} at ${latest.time}`,
    );
    console.log(`log entries:   ${latest.tree_size} (root ${latest.root})`);
    console.log(`proven:        ${latest.additions} counted − ${latest.revocations} taken back`);
    console.log(`offset:        ${latest.offset_claimed} (the newsroom's claim; not verifiable)`);
    console.log(`count:         ${latest.count}`);
    console.log(`pin it:        --pin ${latest.sequence}:${latest.hash}`);
  }
  if (receipt !== undefined) console.log(`receipt:       ${result.receipt}`);
  for (const problem of result.problems) console.log(`PROBLEM: ${problem}`);
  console.log(result.ok ? 'verified' : 'NOT verified');
  process.exit(result.ok && (receipt === undefined || result.receipt === 'verified') ? 0 : 1);
} catch (error) {
  console.error(`could not check: ${error.message}`);
  process.exit(2);
}
