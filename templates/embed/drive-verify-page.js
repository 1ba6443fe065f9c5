// The /campaigns/:slug/verify page: runs the same verifier as bin/verify-drive.mjs, in the browser.
import { verifyDrive } from '/transparency/drive-verify-core.mjs';

const form = document.getElementById('drive-verify');
const input = document.getElementById('receipt');
const progress = document.getElementById('progress');
const outcome = document.getElementById('outcome');
const slug = form.dataset.slug;

const RECEIPT_TEXT = {
  verified: 'Your receipt is verified: your membership is counted in this log.',
  revoked: 'Your receipt is in the log, and was later taken back (a refund).',
  pending: 'Your receipt is logged; the next signed checkpoint (within the hour) will include it.',
  not_found: 'Your receipt was not found in this campaign’s log.',
  invalid: 'This does not look like a receipt: it is a record id, a ~ and 64 hexadecimal characters.',
  unchecked: 'The log itself did not verify, so the receipt could not be checked against it.',
};

async function fetchJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  if (!response.ok) return { status: response.status };
  return response.json();
}

// The latest checkpoint this browser verified is kept and must still be published, unchanged, next
// time: a log that rewrote its past (even re-signing all of it) fails here for every earlier visitor.
const PIN_KEY = `membership-drive-pin:${slug}`;
function savedPins() {
  try {
    const pin = JSON.parse(localStorage.getItem(PIN_KEY) ?? 'null');
    return pin && Number.isInteger(pin.sequence) && typeof pin.hash === 'string' ? [pin] : [];
  } catch {
    return [];
  }
}

function field(name, text) {
  outcome.querySelector(`[data-field="${name}"]`).textContent = text;
}

async function check() {
  outcome.hidden = true;
  progress.textContent = 'Checking…';
  try {
    const result = await verifyDrive({
      fetchJson,
      slug,
      receipt: input.value.trim() || undefined,
      pinned: savedPins(),
      onProgress: (step) => {
        progress.textContent = `${step}…`;
      },
    });
    const latest = result.latest;
    if (result.ok && latest) {
      try {
        localStorage.setItem(PIN_KEY, JSON.stringify({ sequence: latest.sequence, hash: latest.hash }));
      } catch {
        // Storage may be off (private windows): the check still ran, it just is not remembered.
      }
    }
    document.getElementById('log-result').textContent = result.ok
      ? 'The count is verified'
      : 'The count could not be verified';
    outcome.dataset.result = result.ok ? 'verified' : 'failed';
    field('count', latest ? String(latest.count) : '–');
    field(
      'proven',
      latest ? `${latest.additions} counted − ${latest.revocations} taken back = ${latest.additions - latest.revocations}` : '–',
    );
    field('offset', latest ? String(latest.offset_claimed) : '–');
    field('log', latest ? latest.origin : '–');
    field('checkpoint', latest ? `number ${latest.sequence}, ${latest.tree_size} entries, signed ${latest.time}` : '–');
    const receiptLine = document.getElementById('receipt-result');
    receiptLine.hidden = !result.receipt;
    receiptLine.dataset.result = result.receipt ?? '';
    receiptLine.textContent = result.receipt ? RECEIPT_TEXT[result.receipt] : '';
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
const fromLink = new URLSearchParams(location.hash.slice(1)).get('receipt');
if (fromLink) input.value = fromLink;
void check();
