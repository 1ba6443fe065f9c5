import { readFileSync } from 'node:fs';
import { type Response, Router } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { publicRead } from '../../http/cors.js';
import { AppError, errorBodySchema } from '../../http/errors.js';
import type { ApiDocs } from '../../http/openapi.js';
import { sendPage } from '../../http/pages.js';
import { parseInput } from '../../http/validate.js';
import { fromRoot } from '../../infra/paths.js';
import { type Locale, messagesFor, translate } from '../../shared/messages.js';
import { type Campaign, campaignModels } from '../campaign.model.js';
import { checkpointsOf, logOrigin, originOf } from './checkpoint.service.js';
import type { Witness } from './cosignature.js';
import { commitmentAlias, transparencyModels } from './log.model.js';
import { consistencyProof, inclusionProof, signedTreeOf } from './proofs.js';
import type { CheckpointSigner } from './signing.js';
import { classicVerifyScript } from './standalone-page.js';
import { tileAt } from './tile-store.js';
import { parseTilePath } from './tiles.js';
import { loadLog } from './tree-cache.js';
import { cosignedNote } from './witnesses.service.js';

// The public side of the drive log: keys, checkpoints, leaves and proofs, all readable by anyone
// from any origin, and the page that checks them in the reader's own browser. Every answer is about
// signed checkpoints only: a leaf newer than the latest checkpoint is not served yet.

export interface TransparencyRoutesDeps {
  db: Connection;
  signer: CheckpointSigner;
  brandName: string;
  /** PUBLIC_BASE_URL: its host names the logs (checkpoint.service.ts `logOrigin`). */
  publicBaseUrl: string;
  /** DRIVE_WITNESSES: their cosignatures are appended to the newest checkpoint's note. */
  witnesses?: Witness[];
}

export const KEYS_PATH = '/.well-known/membership-drive-keys.json';
const MAX_LEAVES = 1000;
const slugParam = z.string().regex(/^[a-z0-9-]{1,60}$/);
const size = z.coerce.number().int().nonnegative();
const inclusionQuery = z.object({
  commitment: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 commitment in lowercase hex'),
  treeSize: size.optional(),
});
const consistencyQuery = z
  .object({ first: size, second: size })
  .refine((q) => q.first <= q.second, { path: ['first'], message: 'must not be above second' });
const leavesQuery = z
  .object({ start: size, end: size })
  .refine((q) => q.start <= q.end, { path: ['start'], message: 'must not be above end' });

// Any origin may read these (publicRead, src/http/cors.ts); the cache time is theirs.
const publicJson = (res: Response) => res.set({ 'Cache-Control': 'public, max-age=30' });

/** The verify script's words in each language: picked from the catalogue once, not per page. */
const VERIFY_SCRIPT_TEXT = messagesFor('verify.script.');

/** The verify page's data in the reader's language, its script's words included (as data-text). */
function verifyPageData(res: Response, campaign: Campaign) {
  const locale = res.locals.locale as Locale;
  return {
    title: translate(locale, 'verify.title', { title: campaign.title }),
    campaignTitle: campaign.title,
    slug: campaign.slug,
    scriptText: VERIFY_SCRIPT_TEXT[locale],
  };
}

export function transparencyRoutes(deps: TransparencyRoutesDeps): Router {
  const router = Router();
  const core = readFileSync(fromRoot('bin/drive-verify-core.mjs'), 'utf8');
  const pageScript = readFileSync(fromRoot('templates/embed/drive-verify-page.js'), 'utf8');
  const standaloneScript = classicVerifyScript(core, pageScript);

  async function campaignOf(slug: string) {
    const campaign = await campaignModels(deps.db)
      .Campaign.findOne({ slug: parseInput(slugParam, slug) })
      .lean<Campaign>();
    if (!campaign) throw new AppError('not_found', 'There is no campaign with this name.');
    const checkpoints = await checkpointsOf(deps.db, String(campaign._id));
    const first = checkpoints[0];
    return {
      campaign,
      origin: first ? originOf(first) : logOrigin(deps.publicBaseUrl, campaign.slug),
      campaignId: String(campaign._id),
      checkpoints,
      signedSize: checkpoints.at(-1)?.treeSize ?? 0,
    };
  }

  /** A size proofs may be about: at most the latest signed checkpoint's. */
  function withinSigned(value: number, signedSize: number, path: string) {
    if (value > signedSize)
      throw new AppError('validation_failed', undefined, [
        { path, message: `must be at most ${signedSize}, the latest checkpoint's tree size` },
      ]);
  }

  router.get(KEYS_PATH, publicRead, (_req, res) => {
    publicJson(res).json({ keys: deps.signer.publicKeys });
  });

  router.get('/campaigns/:slug/transparency/checkpoints', publicRead, async (req, res) => {
    const { checkpoints } = await campaignOf(req.params.slug);
    const newest = checkpoints.at(-1);
    const newestNote = newest && (await cosignedNote(deps.db, newest, deps.witnesses ?? []));
    publicJson(res).json({
      checkpoints: checkpoints.map((c) => ({
        sequence: c.sequence,
        treeSize: c.treeSize,
        count: c.count,
        offsetClaimed: c.offset,
        time: c.time.toISOString(),
        hash: c.hash,
        kid: c.kid,
        note: c === newest ? newestNote : c.note,
      })),
    });
  });

  // The log's verifier keys, in the signed-note form that note tools take as they are.
  router.get('/campaigns/:slug/transparency/vkeys', publicRead, async (req, res) => {
    const { origin } = await campaignOf(req.params.slug);
    publicJson(res).json({ origin, vkeys: deps.signer.vkeys(origin) });
  });

  // The latest checkpoint alone, as tlog tools fetch it (`<log prefix>/checkpoint`, plain text).
  router.get('/campaigns/:slug/transparency/checkpoint', publicRead, async (req, res) => {
    const latest = (await campaignOf(req.params.slug)).checkpoints.at(-1);
    if (!latest) throw new AppError('not_found', 'This campaign has no checkpoint yet.');
    const note = await cosignedNote(deps.db, latest, deps.witnesses ?? []);
    publicJson(res).type('text/plain; charset=utf-8').send(note);
  });

  router.get('/campaigns/:slug/transparency/leaves', publicRead, async (req, res) => {
    const { start, end } = parseInput(leavesQuery, req.query);
    const { campaignId, signedSize } = await campaignOf(req.params.slug);
    withinSigned(end, signedSize, 'end');
    const log = await loadLog(deps.db, campaignId, end);
    const last = Math.min(end, start + MAX_LEAVES);
    publicJson(res).json({ start, end: last, leaves: log.leaves.slice(start, last) });
  });

  router.get('/campaigns/:slug/transparency/inclusion', publicRead, async (req, res) => {
    const query = parseInput(inclusionQuery, req.query);
    const { campaignId, signedSize, checkpoints } = await campaignOf(req.params.slug);
    const treeSize = query.treeSize ?? signedSize;
    withinSigned(treeSize, signedSize, 'treeSize');
    const alias = await transparencyModels(deps.db)
      .Alias.findById(commitmentAlias(campaignId, query.commitment))
      .lean();
    if (!alias) throw new AppError('receipt_not_found');
    if (alias.index >= treeSize) throw new AppError('receipt_pending');
    const signed = signedTreeOf(checkpoints.at(-1)!.note);
    const { leaf, path } = await inclusionProof(deps.db, campaignId, alias.index, treeSize, signed);
    publicJson(res).json({
      index: alias.index,
      treeSize,
      leaf,
      path: path.map((h) => h.toString('hex')),
    });
  });

  router.get('/campaigns/:slug/transparency/consistency', publicRead, async (req, res) => {
    const { first, second } = parseInput(consistencyQuery, req.query);
    const { campaignId, signedSize, checkpoints } = await campaignOf(req.params.slug);
    withinSigned(second, signedSize, 'second');
    const latest = checkpoints.at(-1);
    const path = latest
      ? await consistencyProof(deps.db, campaignId, first, second, signedTreeOf(latest.note))
      : [];
    publicJson(res).json({ first, second, path: path.map((h) => h.toString('hex')) });
  });

  // The tree as C2SP tlog-tiles (`<prefix>/tile/<L>/<N>[.p/<W>]`), within the latest checkpoint: a
  // tile's bytes never change, so any cache may keep it forever.
  router.get('/campaigns/:slug/transparency/tile/*path', publicRead, async (req, res) => {
    const path = (req.params as { path: string[] }).path.join('/');
    const { campaignId, signedSize } = await campaignOf(req.params.slug);
    const tile = parseTilePath(path);
    const bytes = tile && (await tileAt(deps.db, campaignId, tile, signedSize));
    if (!bytes) throw new AppError('not_found', 'There is no such tile in the latest checkpoint.');
    res
      .set({ 'Cache-Control': 'public, max-age=31536000, immutable' })
      .type('application/octet-stream')
      .send(bytes);
  });

  router.get('/campaigns/:slug/verify', async (req, res) => {
    const { campaign } = await campaignOf(req.params.slug);
    sendPage(res, 'drive-verify', verifyPageData(res, campaign));
  });

  // The verify page to keep: one file, its script inline, the service's address (as the reader
  // reached it) and the log's current keys pinned in it. Opened from disk it checks the log with
  // code and keys the reader holds, and remembers in the browser's storage for files.
  router.get('/campaigns/:slug/verify/standalone.html', async (req, res) => {
    const { campaign, origin } = await campaignOf(req.params.slug);
    res.set('Cache-Control', 'no-store').attachment(`verify-${campaign.slug}.html`);
    sendPage(res, 'drive-verify', {
      ...verifyPageData(res, campaign),
      // A file on the reader's disk: links back to this service's pages would lead nowhere.
      localeLinks: undefined,
      service: `${req.protocol}://${req.get('host')}`,
      vkeys: deps.signer.vkeys(origin).join(' '),
      savedAt: new Date().toISOString(),
      standaloneScript,
    });
  });

  router.get('/transparency/drive-verify-core.mjs', publicRead, (_req, res) => {
    publicJson(res).type('application/javascript').send(core);
  });
  router.get('/transparency/drive-verify-page.js', publicRead, (_req, res) => {
    publicJson(res).type('application/javascript').send(pageScript);
  });

  return router;
}

export function transparencyDocs(docs: ApiDocs): void {
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: errorBodySchema } },
  });
  const slug = z.object({ slug: slugParam });
  const json = (description: string) => ({
    description,
    content: { 'application/json': { schema: z.object({}) } },
  });
  docs.registerPath({
    method: 'get',
    path: KEYS_PATH,
    tags: ['Drive transparency'],
    summary: 'Public Ed25519 keys (JWK) that sign drive checkpoints, by kid',
    responses: { 200: json('Keys') },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/transparency/checkpoints',
    tags: ['Drive transparency'],
    summary: 'Every checkpoint of the campaign, oldest first: `note` is a C2SP signed tlog-checkpoint',
    request: { params: slug },
    responses: { 200: json('Checkpoints'), 404: error('Unknown campaign') },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/transparency/checkpoint',
    tags: ['Drive transparency'],
    summary: "The latest checkpoint as a signed note (text/plain), with the witnesses' cosignature lines",
    request: { params: slug },
    responses: {
      200: { description: 'Signed note', content: { 'text/plain': { schema: z.string() } } },
      404: error('Unknown campaign, or no checkpoint yet'),
    },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/transparency/vkeys',
    tags: ['Drive transparency'],
    summary: "The log's origin and its verifier keys (`name+hash+base64(0x01||key)`, C2SP signed-note)",
    request: { params: slug },
    responses: { 200: json('Origin and verifier keys'), 404: error('Unknown campaign') },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/transparency/leaves',
    tags: ['Drive transparency'],
    summary: `Public leaves [start, end) up to the latest checkpoint, at most ${MAX_LEAVES} per answer`,
    request: { params: slug, query: leavesQuery },
    responses: { 200: json('Leaves'), 404: error('Unknown campaign'), 422: error('Bad range') },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/transparency/inclusion',
    tags: ['Drive transparency'],
    summary: 'RFC 6962 inclusion proof of a receipt commitment in a signed tree size',
    request: { params: slug, query: inclusionQuery },
    responses: {
      200: json('Index and audit path'),
      404: error('No leaf has this commitment (receipt_not_found)'),
      409: error('Logged, but not yet in a signed checkpoint (receipt_pending)'),
      422: error('Bad commitment or tree size'),
    },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/transparency/tile/{tilePath}',
    tags: ['Drive transparency'],
    summary:
      'A C2SP tlog-tiles tile of the tree (`<L>/<N>[.p/<W>]`, N in x-prefixed 3-digit groups), within the latest checkpoint; immutable',
    request: { params: slug.extend({ tilePath: z.string() }) },
    responses: {
      200: {
        description: 'The tile: its hashes, 32 bytes each',
        content: { 'application/octet-stream': { schema: z.string() } },
      },
      404: error('Unknown campaign, a malformed path, or a tile beyond the latest checkpoint'),
    },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/transparency/consistency',
    tags: ['Drive transparency'],
    summary: 'RFC 6962 consistency proof between two tree sizes (the log only grows)',
    request: { params: slug, query: consistencyQuery },
    responses: { 200: json('Consistency path'), 404: error('Unknown campaign'), 422: error('Bad sizes') },
  });
}
