// "Become a member" button for the news site. One line of HTML:
//   <script src="https://MEMBERS_HOST/embed/membership-button.js" data-campaign="birthday" async></script>
// It puts a link to the hosted membership page where the script tag stands. Without JavaScript
// nothing appears, so sites may also place a plain <a href="https://MEMBERS_HOST/membership">.
// On the newsroom's own sites (MEMBER_SITE_ORIGINS) a member sees a thank-you instead (locale from
// data-locale or the page's lang; src/accounts/README.md).
// data-placement (default `button`) names where on the page it stands, for the attribution report:
// the link carries the page (no query string), the placement, the referrer and UTM tags, and a
// view and a click are counted by a beacon that carries only the campaign and the placement.
(function () {
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src).origin;
  var campaign = script.getAttribute('data-campaign');
  // The label in the page's language (data-locale, else the page's lang), from the message catalogue.
  var LABELS = /*@LABELS@*/ { en: 'Become a member' };
  var locale = (script.getAttribute('data-locale') || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
  if (!LABELS[locale]) locale = 'en';
  var label = script.getAttribute('data-label') || LABELS[locale];
  var ORIGINS = /*@MEMBER_ORIGINS@*/ [];
  var THANKS = /*@THANKS@*/ {};
  var NOT_A_MEMBER = { member: false, plan: null, token: null, expiresAt: null };
  var attr = new URLSearchParams(campaign ? { campaign: campaign } : {});
  attr.set('locale', locale);
  attr.set('placement', script.getAttribute('data-placement') || 'button');
  attr.set('page', location.origin + location.pathname);
  if (document.referrer) attr.set('referrer', document.referrer.split(/[?#]/)[0]);
  var here = new URLSearchParams(location.search);
  ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'].forEach(function (k) {
    if (here.get(k)) attr.set(k, here.get(k).slice(0, 100));
  });
  var beacon = function (event) {
    var url = base + '/attribution/events?event=' + event + (campaign ? '&campaign=' + encodeURIComponent(campaign) : '') +
      '&placement=' + encodeURIComponent(attr.get('placement'));
    // A keepalive fetch without cookies, not sendBeacon, which sends them (as in widget.js).
    if (typeof fetch === 'function') fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'omit', keepalive: true }).catch(function () {});
    else if (navigator.sendBeacon) navigator.sendBeacon(url);
  };
  var link = document.createElement('a');
  link.href = base + '/membership' + '?' + attr;
  link.textContent = label;
  link.setAttribute('data-membership-button', '');
  link.style.cssText =
    'display:inline-block;padding:12px 24px;border-radius:4px;font:bold 16px/1.2 Arial,sans-serif;' +
    'text-decoration:none;color:#fff;background:' + (script.getAttribute('data-color') || '#1a56db');
  var place = function (node) { script.parentNode.insertBefore(node, script.nextSibling); };
  // A reader who is asked gets the link (and, on the membership button, its view counted).
  var ask = function () {
    place(link);
    // The gift button (the same script, sent as /embed/gift-button.js) is not in the membership funnel.
    if (link.pathname !== '/membership') return;
    link.addEventListener('click', function () { beacon('click'); });
    beacon('view');
  };
  if (ORIGINS.indexOf(location.origin) < 0 || typeof fetch !== 'function') return ask();
  // Asked once per page, shared with the widget and member.js.
  var api = (window.membership = window.membership || {});
  if (!api.ready) api.ready = fetch(base + '/member/status', { credentials: 'include', cache: 'no-store' })
    .then(function (r) { return r.ok ? r.json() : NOT_A_MEMBER; })
    .catch(function () { return NOT_A_MEMBER; });
  api.ready.then(function (answer) {
    if (!answer.member) return ask();
    var thanks = document.createElement('p');
    thanks.setAttribute('data-membership-thanks', '');
    thanks.textContent = THANKS[locale] || THANKS.en;
    thanks.style.cssText = 'margin:0;font:bold 16px/1.2 Arial,sans-serif';
    place(thanks);
  });
})();
