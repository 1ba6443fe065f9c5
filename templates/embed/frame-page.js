/* Inside the iframe embed (/campaigns/:slug/widget), whose page the server renders complete with
 * its numbers. This script only keeps it current: every minute (not in a background tab; less
 * often after an error) it fetches the page again and puts the new card in place of the old, so
 * the words and numbers are written in one place (the server). See src/campaigns/README.md. */
(function () {
  'use strict';
  var INTERVAL = Math.max(1, Number(document.documentElement.getAttribute('data-refresh')) || 60) * 1000;
  var delay = INTERVAL;

  function refresh() {
    if (typeof fetch !== 'function' || typeof DOMParser !== 'function') return;
    fetch(window.location.href, { credentials: 'omit', cache: 'no-cache' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html').querySelector('membership-goal');
        var current = document.querySelector('membership-goal');
        if (next && current && next.innerHTML !== current.innerHTML) current.innerHTML = next.innerHTML;
        delay = INTERVAL;
      })
      // The card keeps the last numbers it had; the next try waits longer (up to ten minutes).
      .catch(function () { delay = Math.min(delay * 2, 600000); })
      .then(schedule);
  }
  function schedule() {
    setTimeout(function () {
      if (document.hidden) return schedule(); // no polling from background tabs
      refresh();
    }, delay);
  }
  schedule();
})();
