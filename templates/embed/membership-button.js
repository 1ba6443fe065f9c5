// "Become a member" button for the news site. One line of HTML:
//   <script src="https://MEMBERS_HOST/embed/membership-button.js" data-campaign="birthday" async></script>
// It puts a link to the hosted membership page where the script tag stands. Without JavaScript
// nothing appears, so sites may also place a plain <a href="https://MEMBERS_HOST/membership">.
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
  var link = document.createElement('a');
  var query = '?locale=' + locale + (campaign ? '&campaign=' + encodeURIComponent(campaign) : '');
  link.href = base + '/membership' + query;
  link.textContent = label;
  link.setAttribute('data-membership-button', '');
  link.style.cssText =
    'display:inline-block;padding:12px 24px;border-radius:4px;font:bold 16px/1.2 Arial,sans-serif;' +
    'text-decoration:none;color:#fff;background:' + (script.getAttribute('data-color') || '#1a56db');
  script.parentNode.insertBefore(link, script.nextSibling);
})();
