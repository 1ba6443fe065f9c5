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

// The page's words, in its language, from the message catalogue (the `verify.script.` messages,
// passed in the form's data-text by templates/pages/drive-verify.hbs).
const TEXT = JSON.parse(form.dataset.text || '{}');
const plurals = new Intl.PluralRules(document.documentElement.lang || 'en');
/** A message with its {placeholders} filled; plural forms follow {count}. */
function say(key, vars = {}) {
  const message = TEXT[`verify.script.${key}`] ?? key;
  const text = typeof message === 'string' ? message : (message[plurals.select(Number(vars.count))] ?? message.other);
  return text.replace(/\{(\w+)\}/g, (whole, name) => (vars[name] === undefined ? whole : String(vars[name])));
}

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
    ? say('offsets.all')
    : say(since.length > 0 ? 'offsets.changed' : 'offsets.unchanged', { sequence: remembered.sequence });
  document.getElementById('offset-list').replaceChildren(
    ...since.map((o) => {
      const li = document.createElement('li');
      li.textContent = say('offsets.entry', {
        amount: signed(o.amount),
        reason: o.reason,
        time: o.time ?? say('offsets.unknownDate'),
        staff: o.staff,
        index: o.index,
      });
      return li;
    }),
  );
}

function field(name, text) {
  outcome.querySelector(`[data-field="${name}"]`).textContent = text;
}

async function check() {
  outcome.hidden = true;
  progress.textContent = say('checking');
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
      memoryLine.textContent = say('memoryOff');
    }
    document.getElementById('log-result').textContent = say(
      result.refusal ? `refusal.${result.refusal}` : result.ok ? 'verified' : 'notVerified',
    );
    outcome.dataset.result = result.ok ? 'verified' : result.refusal ? 'refused' : 'failed';
    outcome.dataset.refusal = result.refusal ?? '';
    field('count', latest ? String(latest.count) : '–');
    field(
      'proven',
      latest
        ? say('proven', {
            additions: latest.additions,
            revocations: latest.revocations,
            total: latest.additions - latest.revocations,
          })
        : '–',
    );
    field('offset', latest ? String(latest.offset_claimed) : '–');
    showOffsets(result.offsets, result.remembered);
    field('log', latest ? latest.origin : '–');
    field(
      'checkpoint',
      latest ? say('checkpoint', { sequence: latest.sequence, count: latest.tree_size, time: latest.time }) : '–',
    );
    const receiptLine = document.getElementById('receipt-result');
    receiptLine.hidden = !result.receipt;
    receiptLine.dataset.result = result.receipt ?? '';
    receiptLine.textContent = result.receipt ? say(`receipt.${result.receipt}`) : '';
    const promiseLine = document.getElementById('promise-result');
    if (promiseLine) {
      promiseLine.hidden = !result.promise;
      promiseLine.dataset.result = result.promise ?? '';
      promiseLine.textContent = result.promise
        ? `${say(`promise.${result.promise}`)}${result.promiseMergeBy ? say('promiseAt', { index: result.promiseIndex, time: result.promiseMergeBy }) : ''}`
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
    progress.textContent = say('failedToRun', { error: error.message });
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
