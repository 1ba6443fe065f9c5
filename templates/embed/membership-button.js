// "Become a member" button for the news site. One line of HTML:
//   <script src="https://MEMBERS_HOST/embed/membership-button.js" data-campaign="birthday" async></script>
// It puts a link to the hosted membership page where the script tag stands. Without JavaScript
// nothing appears, so sites may also place a plain <a href="https://MEMBERS_HOST/membership">.
// On the newsroom's own sites (MEMBER_SITE_ORIGINS) a member sees a thank-you instead (locale from
// data-locale or the page's lang; src/accounts/README.md).
(function () {
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src).origin;
  var campaign = script.getAttribute('data-campaign');
  var label = script.getAttribute('data-label') || 'Become a member';
  var ORIGINS = /*@MEMBER_ORIGINS@*/ [];
  var THANKS = /*@THANKS@*/ {};
  var NOT_A_MEMBER = { member: false, plan: null, token: null, expiresAt: null };
  var link = document.createElement('a');
  link.href = base + '/membership' + (campaign ? '?campaign=' + encodeURIComponent(campaign) : '');
  link.textContent = label;
  link.setAttribute('data-membership-button', '');
  link.style.cssText =
    'display:inline-block;padding:12px 24px;border-radius:4px;font:bold 16px/1.2 Arial,sans-serif;' +
    'text-decoration:none;color:#fff;background:' + (script.getAttribute('data-color') || '#1a56db');
  var place = function (node) { script.parentNode.insertBefore(node, script.nextSibling); };
  if (ORIGINS.indexOf(window.location.origin) < 0 || typeof fetch !== 'function') return place(link);
  // Asked once per page, shared with the widget and member.js.
  var api = (window.membership = window.membership || {});
  if (!api.ready) api.ready = fetch(base + '/member/status', { credentials: 'include', cache: 'no-store' })
    .then(function (r) { return r.ok ? r.json() : NOT_A_MEMBER; })
    .catch(function () { return NOT_A_MEMBER; });
  api.ready.then(function (answer) {
    if (!answer.member) return place(link);
    var lang = (script.getAttribute('data-locale') || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
    var thanks = document.createElement('p');
    thanks.setAttribute('data-membership-thanks', '');
    thanks.textContent = THANKS[lang] || THANKS.en;
    thanks.style.cssText = 'margin:0;font:bold 16px/1.2 Arial,sans-serif';
    place(thanks);
  });
})();
