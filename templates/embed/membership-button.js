// "Become a member" button for the news site. One line of HTML:
//   <script src="https://MEMBERS_HOST/embed/membership-button.js" data-campaign="birthday" async></script>
// It puts a link to the hosted membership page where the script tag stands. Without JavaScript
// nothing appears, so sites may also place a plain <a href="https://MEMBERS_HOST/membership">.
// data-placement (default `button`) names where on the page it stands, for the attribution report:
// the link carries the page (no query string), the placement, the referrer and UTM tags, and a
// view and a click are counted by a beacon that carries only the campaign and the placement.
(function () {
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src).origin;
  var campaign = script.getAttribute('data-campaign');
  var label = script.getAttribute('data-label') || 'Become a member';
  var attr = new URLSearchParams(campaign ? { campaign: campaign } : {});
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
    try { if (!navigator.sendBeacon(url)) throw 0; } catch (e) { fetch(url, { method: 'POST', credentials: 'omit', keepalive: true }).catch(function () {}); }
  };
  var link = document.createElement('a');
  link.href = base + '/membership' + '?' + attr;
  link.textContent = label;
  link.setAttribute('data-membership-button', '');
  link.style.cssText =
    'display:inline-block;padding:12px 24px;border-radius:4px;font:bold 16px/1.2 Arial,sans-serif;' +
    'text-decoration:none;color:#fff;background:' + (script.getAttribute('data-color') || '#1a56db');
  script.parentNode.insertBefore(link, script.nextSibling);
  // The gift button (the same script, sent as /embed/gift-button.js) is not in the membership funnel.
  if (link.pathname !== '/membership') return;
  link.addEventListener('click', function () { beacon('click'); });
  beacon('view');
})();
