/* Whether the reader in front of the newsroom's own site is a member. One line on a page of an
 * origin listed in MEMBER_SITE_ORIGINS:
 *   <script src="https://MEMBERS_HOST/embed/member.js" async></script>
 * Then:
 *   membership.ready.then(function (answer) { answer.member, answer.plan, answer.token });
 *   document.addEventListener('membership:answer', function (e) { e.detail.member ... });
 *   membership.refresh()   // asks again (the token lives minutes; sign-out or a lapse ends it)
 * `token` is a JWT (EdDSA) whose audience is this page's origin; the site's server verifies it
 * against MEMBERS_HOST/.well-known/jwks.json before it grants a perk. The browser's answer alone
 * is a hint for what to show, not a proof. On any other origin, or when the service cannot be
 * reached, the answer is "not a member" and no request is made or read (src/accounts/README.md). */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src).origin;
  var ORIGINS = /*@MEMBER_ORIGINS@*/ [];
  var NOT_A_MEMBER = { member: false, plan: null, token: null, expiresAt: null };
  var api = (window.membership = window.membership || {});

  function ask() {
    if (ORIGINS.indexOf(window.location.origin) < 0 || typeof fetch !== 'function') return Promise.resolve(NOT_A_MEMBER);
    return fetch(origin + '/member/status', { credentials: 'include', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : NOT_A_MEMBER; })
      .catch(function () { return NOT_A_MEMBER; });
  }
  function announce(answer) {
    document.dispatchEvent(new CustomEvent('membership:answer', { detail: answer }));
    return answer;
  }
  api.refresh = function () {
    api.ready = ask().then(announce);
    return api.ready;
  };
  // The widget and the button may have asked already (they share window.membership.ready).
  if (api.ready) api.ready.then(announce);
  else api.refresh();
})();
