import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCosignatures, parseNote, verifyDriveWithMemory } from '../../bin/drive-verify-core.mjs';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { campaignsCapability } from '../../src/campaigns/campaigns.capability.js';
import { cosignatureModel } from '../../src/campaigns/drive-log/cosignature.js';
import { transparencyModels } from '../../src/campaigns/drive-log/log.model.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { fromRoot } from '../../src/infra/paths.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { checkpoint, fetchFrom, memberJoins, newCampaign } from './support.js';
import { killWitnesses, startWitness, type WitnessProcess, witnessFolder } from './witness-support.js';

// The service and a witness, both ways (c2sp.org/tlog-witness): the service posts each new
// checkpoint to the witness configured in DRIVE_WITNESSES, stores the cosignature and publishes it
// on the checkpoint; readers' verifiers (ours, and Go's through transparency-dev/formats) then
// require it.

const exec = promisify(execFile);
let app: TestApp;
let campaign: Campaign;
let witness: WitnessProcess;
let dir: string;
let goChecker: string;
let logVkey: string;
const slug = `witnessed-${Math.random().toString(36).slice(2, 8)}`;
const other = createSigner([{ kid: 'x', seed: Buffer.alloc(32, 7) }]); // another witness's key, below

beforeAll(async () => {
  const built = await exec(fromRoot('scripts/install-test-services.sh'), ['go-checker'], {
    encoding: 'utf8',
  });
  goChecker = built.stdout.trim().split('\n').at(-1)!;
  dir = witnessFolder();
  // The witness is told the log's vkey (the newsroom announces it), then the service its witness.
  logVkey = createSigner(testConfig().transparency.keys).vkeys(`members.test/drive/${slug}`)[0]!;
  witness = await startWitness(dir, [logVkey]);
  app = await startTestApp({ config: testConfig({ DRIVE_WITNESSES: `${witness.url} ${witness.vkey}` }) });
  campaign = await newCampaign(app, { slug });
});
afterAll(async () => {
  await app.close();
  killWitnesses();
  rmSync(dir, { recursive: true, force: true });
});

/** The periodic task the job runner runs every minute. */
const witnessTask = () =>
  campaignsCapability.tasks!(app.deps)
    .find((t) => t.name === 'drive-witnesses')!
    .run();
const published = async () => (await fetch(`${app.url}/campaigns/${slug}/transparency/checkpoint`)).text();
const at = (n: number) => new Date(app.deps.clock.now().getTime() - 3_600_000 + n * 1000);
const witnessState = () => JSON.parse(readFileSync(path.join(dir, 'witness-state.json'), 'utf8'));

async function verifyCli(args: string[]): Promise<{ code: number; out: string }> {
  const cli = [fromRoot('bin/verify-drive.mjs'), app.url, slug, '--no-state'];
  return exec(process.execPath, [...cli, '--at', app.deps.clock.now().toISOString(), ...args], {
    encoding: 'utf8',
  }).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

async function goCheck(witnessVkey: string) {
  const args = ['-url', app.url, '-slug', slug, '-vkey', logVkey, '-witness', witnessVkey];
  return exec(goChecker, args, { encoding: 'utf8' }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}

describe('witnesses', () => {
  it('when a checkpoint is signed and the witness task runs, then the published checkpoint carries the witness’s cosignature', async () => {
    for (let i = 0; i < 3; i++) await memberJoins(app, at(i));
    const first = (await checkpoint(app, campaign))!;
    expect(await published()).toBe(first.note); // not cosigned yet
    expect(await witnessTask()).toBe(1);
    const note = await published();
    expect(note.startsWith(first.note)).toBe(true);
    expect(note.slice(first.note.length)).toMatch(/^— witness\.readers\.test\/w1 [A-Za-z0-9+/]{102}==\n$/);
    const { cosigned, problems } = await checkCosignatures(parseNote(note), [witness.vkey]);
    expect(problems).toEqual([]);
    expect(cosigned).toEqual([
      { vkey: witness.vkey, name: 'witness.readers.test/w1', time: expect.any(String) },
    ]);
    // Stored once: the next round has nothing to send.
    expect(await cosignatureModel(app.deps.db).countDocuments({ campaignId: String(campaign._id) })).toBe(1);
    expect(await witnessTask()).toBe(0);
    expect(witnessState().logs[`members.test/drive/${slug}`].size).toBe(first.treeSize);
    // The list of checkpoints serves the same note for the newest.
    const listed = await (await fetch(`${app.url}/campaigns/${slug}/transparency/checkpoints`)).json();
    expect(listed.checkpoints.at(-1).note).toBe(note);
  });

  it('when the log grows, then the next checkpoint is cosigned from the size the witness holds, with a consistency proof', async () => {
    await memberJoins(app, at(10));
    await memberJoins(app, at(11));
    const second = (await checkpoint(app, campaign))!;
    expect(await witnessTask()).toBe(1);
    expect(witnessState().logs[`members.test/drive/${slug}`].size).toBe(second.treeSize);
    expect((await published()).startsWith(`${second.note}— witness.readers.test/w1 `)).toBe(true);
  });

  it('when the witness lost its state, then its 409 names size 0 and the service submits again from there', async () => {
    const port = new URL(witness.url).port;
    await witness.stop();
    rmSync(path.join(dir, 'witness-state.json'));
    witness = await startWitness(dir, [logVkey], ['--port', port]);
    await memberJoins(app, at(20));
    const third = (await checkpoint(app, campaign))!;
    // The service remembers the witness at the second checkpoint's size; the witness answers 409 "0".
    expect(await witnessTask()).toBe(1);
    expect(witnessState().logs[`members.test/drive/${slug}`].size).toBe(third.treeSize);
  });

  it('when Go’s transparency-dev/formats checks the published checkpoint, then it verifies the witness’s cosignature/v1, and refuses another witness’s key', async () => {
    const ok = await goCheck(witness.vkey);
    expect(ok.err).toBe('');
    expect(ok.out).toMatch(/^cosigned: witness\.readers\.test\/w1 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(ok.out.trim().split('\n').at(-1)).toBe('OK');
    expect(ok.code).toBe(0);
    const stranger = cosignerVkey('witness.readers.test/w2');
    const refused = await goCheck(stranger);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      'FAIL: the latest checkpoint has no cosignature by witness witness.readers.test/w2\n',
    );
  });

  it('when a reader requires k of n witnesses, then verify-drive passes with k cosignatures and refuses (exit 6) with fewer', async () => {
    const stranger = cosignerVkey('witness.readers.test/w2');
    const one = await verifyCli(['--witness', witness.vkey]);
    expect(one.out).toMatch(/^witnesses: {5}witness\.readers\.test\/w1 at .* \(1 of 1 required\)$/m);
    expect(one.code).toBe(0);
    expect(
      (await verifyCli(['--witness', stranger, '--witness', witness.vkey, '--witnesses-required', '1'])).code,
    ).toBe(0);
    const two = await verifyCli(['--witness', stranger, '--witness', witness.vkey]);
    expect(two.code).toBe(6);
    expect(two.out).toContain('PROBLEM: checkpoint 2 is cosigned by 1 of the 2 witnesses given; 2 required');
    expect(two.out).toContain('REFUSED: witnesses.');
    // A checkpoint the witness has not cosigned yet is refused too.
    await memberJoins(app, at(30));
    await checkpoint(app, campaign);
    expect((await verifyCli(['--witness', witness.vkey])).code).toBe(6);
    expect(await witnessTask()).toBe(1);
    expect((await verifyCli(['--witness', witness.vkey])).code).toBe(0);
  });

  it('when a cosignature line by the witness’s name and key id does not verify, then the verifier names it and does not count it', async () => {
    const fetchJson = fetchFrom(app);
    const tampered = async (p: string) => {
      const body = (await fetchJson(p)) as { checkpoints?: { note: string }[] };
      const newest = body.checkpoints?.at(-1);
      // One bit of the cosignature's Ed25519 signature flipped (after key id and time).
      if (newest)
        newest.note = newest.note.replace(/(— witness\S+ )(\S+)\n$/, (_, start: string, encoded: string) => {
          const bytes = Buffer.from(encoded, 'base64');
          bytes[40]! ^= 1;
          return `${start}${bytes.toString('base64')}\n`;
        });
      return body;
    };
    const result = await verifyDriveWithMemory({
      fetchJson: tampered,
      slug,
      now: app.deps.clock.now(),
      witnesses: [witness.vkey],
      witnessesRequired: 1,
    });
    expect(result.refusal).toBe('witnesses');
    expect(result.problems).toContain('the cosignature of witness witness.readers.test/w1 does not verify');
    expect(
      await transparencyModels(app.deps.db).Checkpoint.countDocuments({ campaignId: String(campaign._id) }),
    ).toBe(4);
  });
});

describe('configuring witnesses', () => {
  it('when DRIVE_WITNESSES is not "<URL> <vkey>" pairs, then the service refuses the setting; a vkey whose key id is wrong stops it at start', () => {
    expect(() => testConfig({ DRIVE_WITNESSES: witness.vkey })).toThrow(
      /DRIVE_WITNESSES: "<witness URL> <witness vkey>" pairs/,
    );
    const pairs = testConfig({
      DRIVE_WITNESSES: `http://a.test ${witness.vkey},https://b.test/w/ ${cosignerVkey('b.test/w')}`,
    });
    expect(pairs.transparency.witnesses).toEqual([
      { url: 'http://a.test', vkey: witness.vkey },
      { url: 'https://b.test/w', vkey: cosignerVkey('b.test/w') },
    ]);
    const wrongId = witness.vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    const config = testConfig({ DRIVE_WITNESSES: `http://a.test ${wrongId}` });
    expect(() => campaignsCapability.tasks!({ ...app.deps, config })).toThrow(
      /is not an Ed25519 cosignature\/v1 vkey/,
    );
  });
});

/** A cosignature/v1 vkey of a witness that never saw this log. */
function cosignerVkey(name: string): string {
  const vkey = other.vkeys(name)[0]!;
  const raw = Buffer.from(vkey.split('+').slice(2).join('+'), 'base64').subarray(1);
  const material = Buffer.concat([Buffer.from([0x04]), raw]);
  const id = createHashId(name, material);
  return `${name}+${id}+${material.toString('base64')}`;
}

function createHashId(name: string, material: Buffer): string {
  // SHA-256(name || 0x0A || 0x04 || key)[:4], as tlog-cosignature says.
  return createHash('sha256').update(`${name}\n`).update(material).digest().subarray(0, 4).toString('hex');
}
