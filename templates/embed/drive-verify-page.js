// The /campaigns/:slug/verify page: runs the same verifier as bin/verify-drive.mjs, in the browser.
// The verifier is imported from beside this file, so a copy of the page and its two scripts hosted
// elsewhere checks the newsroom with code the newsroom does not serve (src/campaigns/drive-log/README.md).
import { verifyDriveWithMemory } from './drive-verify-core.mjs';

const form = document.getElementById('drive-verify');
const input = document.getElementById('receipt');
const promiseInput = document.getElementById('promise');
const progress = document.getElementById('progress');
const outcome = document.getElementById('outcome');
const query = new URLSearchParams(location.search);
const slug = query.get('slug') || form.dataset.slug;
// Where the log is served (default: where this page is) and the keys the reader pins: in the page
// (`data-service`, `data-vkey`, vkeys separated by spaces) or in its address (`?service=&vkey=`).
const service = query.get('service') || form.dataset.service || location.origin;
const keys = [...(form.dataset.vkey ?? '').split(/\s+/), ...query.getAll('vkey')].filter(Boolean);
const acceptKeyChange = query.has('accept-key-change');

const RECEIPT_TEXT = {
  verified: 'Your receipt is verified: your membership is counted in this log.',
  revoked: 'Your receipt is in the log, and was later taken back (a refund).',
  pending: 'Your receipt is logged; the next signed checkpoint (within the hour) will include it.',
  not_found: 'Your receipt was not found in this campaign’s log.',
  invalid: 'This does not look like a receipt: it is a record id, a ~ and 64 hexadecimal characters.',
  unchecked: 'The log itself did not verify, so the receipt could not be checked against it.',
};

const PROMISE_TEXT = {
  kept: 'The newsroom kept its promise: your entry is in a signed checkpoint at the place it promised, in time.',
  pending: 'The promise is not due yet: a signed checkpoint must hold your entry by the time it names.',
  broken:
    'Refused: the newsroom broke its signed promise: your entry is not where it promised, by the time it promised. Keep the promise: it is proof.',
  invalid: 'This promise is not one of this log, or not the one of your receipt.',
  unchecked: 'The log itself did not verify, so the promise could not be checked against it.',
};

async function fetchJson(path) {
  // Asked afresh every time (`no-cache` revalidates): a verifier judges what is published now.
  const response = await fetch(new URL(path, service), {
    headers: { accept: 'application/json' },
    cache: 'no-cache',
  });
  if (!response.ok) return { status: response.status };
  return response.json();
}

// What this browser verified last (the pinned keys and the newest checkpoint, per log) is kept in
// this page's own storage, as the CLI keeps its state file: a log that went back, forked or changed
// its key since is refused, for every reader who checked it before.
const STATE_KEY = 'membership-drive-verifier';
const address = new URL(`/campaigns/${encodeURIComponent(slug)}`, service).href;
function loadState() {
  try {
    const state = JSON.parse(localStorage.getItem(STATE_KEY) ?? 'null');
    if (state?.version === 1 && state.logs && state.addresses) return state;
  } catch {
    // unreadable: start afresh
  }
  return { version: 1, logs: {}, addresses: {} };
}

const REFUSAL_TEXT = {
  rollback: 'Refused: the log went back since this browser last checked it',
  fork: 'Refused: this is not the log this browser checked before (it forked)',
  key_change: 'Refused: the newest checkpoint is not signed by the key this browser pinned',
  broken_promise: 'Refused: the log broke its signed promise for your entry',
};

const MEMORY_OFF_TEXT =
  'This browser gives this page no storage, so it remembers nothing: every check here is a first check, trusting only the keys pinned in the page.';

const signed = (amount) => (amount < 0 ? `−${-amount}` : `+${amount}`);

/**
 * The starting number's entries: the changes since the checkpoint this browser verified last,
 * marked as such (legitimate, but the count moved by the newsroom's word); on a first check, all.
 */
function showOffsets(offsets, remembered) {
  const box = document.getElementById('offset-changes');
  if (!box) return; // a copy of the page from before offsets were shown
  const since = remembered ? (offsets ?? []).filter((o) => o.index >= remembered.size) : (offsets ?? []);
  box.hidden = !offsets || offsets.length === 0;
  box.dataset.changed = remembered ? (since.length > 0 ? 'yes' : 'no') : '';
  document.getElementById('offset-changes-title').textContent = !remembered
    ? 'The starting number’s entries in the log (the first one and each change to it):'
    : since.length > 0
      ? `The starting number changed since this browser last checked (checkpoint ${remembered.sequence}):`
      : `The starting number has not changed since this browser last checked (checkpoint ${remembered.sequence}).`;
  document.getElementById('offset-list').replaceChildren(
    ...since.map((o) => {
      const li = document.createElement('li');
      li.textContent = `${signed(o.amount)} (reason: “${o.reason}”) on ${o.time ?? 'an unknown date'}, by staff ${o.staff}, entry ${o.index}`;
      return li;
    }),
  );
}

function field(name, text) {
  outcome.querySelector(`[data-field="${name}"]`).textContent = text;
}

async function check() {
  outcome.hidden = true;
  progress.textContent = 'Checking…';
  try {
    const state = loadState();
    const knownOrigin = state.addresses[address];
    const result = await verifyDriveWithMemory({
      fetchJson,
      slug,
      receipt: input.value.trim() || undefined,
      promise: promiseInput?.value.trim() ? `${promiseInput.value.trim()}\n` : undefined,
      keys,
      acceptKeyChange,
      memory: knownOrigin ? state.logs[knownOrigin] : (origin) => state.logs[origin],
      onProgress: (step) => {
        progress.textContent = `${step}…`;
      },
    });
    const latest = result.latest;
    let remembered = '';
    if (result.ok && result.memory) {
      state.logs[result.memory.origin] = { ...result.memory, verifiedAt: new Date().toISOString() };
      state.addresses[address] = result.memory.origin;
      try {
        localStorage.setItem(STATE_KEY, JSON.stringify(state));
        remembered = 'yes';
      } catch {
        // Storage may be off (private windows, a browser that gives files none): the check still
        // ran, it just is not remembered, and the reader is told so.
        remembered = 'no';
      }
    }
    outcome.dataset.remembered = remembered;
    const memoryLine = document.getElementById('memory-result');
    if (memoryLine) {
      memoryLine.hidden = remembered !== 'no';
      memoryLine.textContent = MEMORY_OFF_TEXT;
    }
    document.getElementById('log-result').textContent = result.refusal
      ? REFUSAL_TEXT[result.refusal]
      : result.ok
        ? 'The count is verified'
        : 'The count could not be verified';
    outcome.dataset.result = result.ok ? 'verified' : result.refusal ? 'refused' : 'failed';
    outcome.dataset.refusal = result.refusal ?? '';
    field('count', latest ? String(latest.count) : '–');
    field(
      'proven',
      latest ? `${latest.additions} counted − ${latest.revocations} taken back = ${latest.additions - latest.revocations}` : '–',
    );
    field('offset', latest ? String(latest.offset_claimed) : '–');
    showOffsets(result.offsets, result.remembered);
    field('log', latest ? latest.origin : '–');
    field('checkpoint', latest ? `number ${latest.sequence}, ${latest.tree_size} entries, signed ${latest.time}` : '–');
    const receiptLine = document.getElementById('receipt-result');
    receiptLine.hidden = !result.receipt;
    receiptLine.dataset.result = result.receipt ?? '';
    receiptLine.textContent = result.receipt ? RECEIPT_TEXT[result.receipt] : '';
    const promiseLine = document.getElementById('promise-result');
    if (promiseLine) {
      promiseLine.hidden = !result.promise;
      promiseLine.dataset.result = result.promise ?? '';
      promiseLine.textContent = result.promise
        ? `${PROMISE_TEXT[result.promise]}${result.promiseMergeBy ? ` (entry ${result.promiseIndex}, by ${result.promiseMergeBy})` : ''}`
        : '';
    }
    const problems = document.getElementById('problems');
    problems.replaceChildren(
      ...result.problems.map((p) => {
        const li = document.createElement('li');
        li.textContent = p;
        return li;
      }),
    );
    progress.textContent = '';
    outcome.hidden = false;
  } catch (error) {
    progress.textContent = `The check could not run: ${error.message}`;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void check();
});

// A receipt link carries the receipt after `#`, which browsers never send to any server.
const fragment = new URLSearchParams(location.hash.slice(1));
const fromLink = fragment.get('receipt');
if (fromLink) input.value = fromLink;
// The promise travels the same way, and is shown so the member can keep a copy of it.
const promiseFromLink = fragment.get('promise');
if (promiseFromLink && promiseInput) promiseInput.value = promiseFromLink;
void check();
