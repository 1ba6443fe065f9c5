/* Inside the iframe embed (/campaigns/:slug/widget), whose page the server renders complete with
 * its numbers. This script only keeps it current: every minute (not in a background tab; less
 * often after an error) it fetches the page again and puts the new card in place of the old, so
 * the words and numbers are written in one place (the server). See src/campaigns/README.md. */
(function () {
  'use strict';
  var INTERVAL = Math.max(1, Number(document.documentElement.getAttribute('data-refresh')) || 60) * 1000;
  var delay = INTERVAL;
  var ORIGINS = /*@MEMBER_ORIGINS@*/ [];
  var member = false;

  // A member is thanked instead of asked only when every page around the frame is one of the
  // newsroom's configured sites (location.ancestorOrigins, set by the browser; where it is
  // missing, nobody is thanked): the frame's height tells its host what it shows.
  function hostsConfigured() {
    var hosts = window.location.ancestorOrigins;
    if (!hosts || !hosts.length) return false;
    for (var i = 0; i < hosts.length; i++) if (ORIGINS.indexOf(hosts[i]) < 0) return false;
    return true;
  }
  function thank() {
    var join = document.querySelector('a.join'), thanks = document.querySelector('.thanks');
    if (join && thanks) { join.hidden = member; thanks.hidden = !member; }
  }
  if (hostsConfigured() && typeof fetch === 'function') {
    fetch('/member/status', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : { member: false }; })
      .then(function (a) { member = a.member === true; thank(); })
      .catch(function () {});
  }

  // The element's data-checkpoint-* and data-pending say which checkpoint the card shows; they
  // follow the new card (README, "What each embed says about the log").
  function checkpointOf(next, current) {
    var names = ['data-checkpoint-sequence', 'data-checkpoint-size', 'data-checkpoint-root', 'data-checkpoint-count', 'data-pending'];
    names.forEach(function (name) {
      if (next.hasAttribute(name)) current.setAttribute(name, next.getAttribute(name));
      else current.removeAttribute(name);
    });
  }

  function refresh() {
    if (typeof fetch !== 'function' || typeof DOMParser !== 'function') return;
    fetch(window.location.href, { credentials: 'omit', cache: 'no-cache' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html').querySelector('membership-goal');
        var current = document.querySelector('membership-goal');
        if (next && current && next.innerHTML !== current.innerHTML) { current.innerHTML = next.innerHTML; thank(); }
        if (next && current) checkpointOf(next, current);
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
