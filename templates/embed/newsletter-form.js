/* Newsletter sign-up form for the news site. One line on any page:
 *   <script src="https://MEMBERS_HOST/embed/newsletter-form.js" async></script>
 *   <newsletter-signup lists="editors-picks,explaining-ukraine"></newsletter-signup>
 * Attributes: locale="en|uk" (default: the page's lang), theme="light|dark" (default: the reader's
 * system setting). Theme with --mg-bg, --mg-text, --mg-border, --mg-accent (or --ns-accent), or
 * style the parts: newsletter-signup::part(box|legend|label|input|error|button|done).
 * Without JavaScript, link to https://MEMBERS_HOST/newsletters (a plain HTML form). Its styles are
 * a constructed stylesheet, so a page whose Content-Security-Policy allows no inline styles shows it
 * styled (docs/security.md). The words come from the service's message catalogue, written in below
 * when this file is served. */
(function () {
  'use strict';
  if (!window.customElements || customElements.get('newsletter-signup')) return;
  var script = document.currentScript;
  var origin = script ? new URL(script.src).origin : '';
  var MESSAGES = /*@MESSAGES@*/ { en: {}, uk: {} };
  var DARK = '--bg:var(--mg-bg,#18181b);--fg:var(--mg-text,#f4f4f5);--line:var(--mg-border,#71717a);--err:#fca5a5';
  // A background of its own, so the text stays readable on light and dark sites alike.
  var CSS =
    ':host{display:block}.box{--bg:var(--mg-bg,#fff);--fg:var(--mg-text,#18181b);--line:var(--mg-border,#a1a1aa);--err:#b91c1c;' +
    'background:var(--bg);color:var(--fg);padding:16px;border-radius:8px;font:16px/1.4 var(--mg-font,system-ui,-apple-system,Segoe UI,Roboto,sans-serif);text-align:left}' +
    '@media (prefers-color-scheme:dark){:host(:not([theme=light])) .box{' + DARK + '}}:host([theme=dark]) .box{' + DARK + '}' +
    'label{display:block;margin:4px 0}input[type=email]{font:inherit;padding:8px;width:100%;box-sizing:border-box;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:4px}' +
    'input[aria-invalid=true]{border-color:var(--err)}.error{color:var(--err);font-size:14px;min-height:1.2em;margin:4px 0}' +
    'button{font:inherit;font-weight:700;padding:10px 18px;margin-top:8px;background:var(--mg-accent,var(--ns-accent,#1a56db));color:#fff;border:0;border-radius:4px;cursor:pointer}' +
    'input:focus-visible,button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}.done{font-weight:700}' +
    'fieldset{border:0;padding:0;margin:0}legend{font-weight:700}';

  // One constructed stylesheet for every form on the page: no <style> element or style attribute,
  // which a strict host policy (style-src without 'unsafe-inline') would block. A browser without
  // constructable stylesheets gets a <style> element instead.
  var sheet;
  function adoptStyles(root) {
    if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function') {
      try {
        if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
        root.adoptedStyleSheets = [sheet];
        return;
      } catch (e) { /* fall through to a <style> element */ }
    }
    var style = document.createElement('style');
    style.textContent = CSS;
    root.insertBefore(style, root.firstChild);
  }

  class Signup extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      var root = this.attachShadow({ mode: 'open' });
      var self = this;
      var locale = (this.getAttribute('locale') || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
      if (!MESSAGES[locale]) locale = 'en';
      var t = function (key) { return MESSAGES[locale]['embed.newsletter.' + key] || MESSAGES.en['embed.newsletter.' + key]; };
      var INVALID = t('invalid');
      root.innerHTML = '<div class="box" part="box"><form novalidate>' +
        '<fieldset><legend part="legend"></legend><div class="lists"></div></fieldset>' +
        '<label for="email" part="label"></label><input id="email" part="input" name="email" type="email" required autocomplete="email" aria-describedby="error">' +
        '<p class="error" part="error" id="error" aria-live="polite"></p><button type="submit" part="button"></button></form>' +
        '<p class="done" part="done" role="status" hidden></p></div>';
      adoptStyles(root);
      root.querySelector('legend').textContent = t('legend');
      root.querySelector('label').textContent = t('email');
      root.querySelector('button').textContent = t('submit');
      var wanted = (this.getAttribute('lists') || '').split(',').filter(Boolean);
      fetch(origin + '/newsletters/lists', { credentials: 'omit' })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          var box = root.querySelector('.lists');
          body.lists.filter(function (l) { return !wanted.length || wanted.indexOf(l.slug) >= 0; }).forEach(function (l, i) {
            var label = document.createElement('label');
            var input = document.createElement('input');
            input.type = 'checkbox'; input.name = 'lists'; input.value = l.slug; input.checked = i === 0;
            label.appendChild(input);
            label.appendChild(document.createTextNode(' ' + l.name));
            box.appendChild(label);
          });
        });
      var form = root.querySelector('form'), email = root.querySelector('#email'), error = root.querySelector('.error');
      var fail = function (message) {
        error.textContent = message;
        email.setAttribute('aria-invalid', 'true');
        email.focus();
      };
      email.addEventListener('input', function () { if (email.checkValidity()) { error.textContent = ''; email.removeAttribute('aria-invalid'); } });
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        if (!email.value || !email.checkValidity()) return fail(INVALID);
        var lists = Array.prototype.map.call(root.querySelectorAll('input[name=lists]:checked'), function (i) { return i.value; });
        fetch(origin + '/newsletters/subscriptions', {
          method: 'POST',
          credentials: 'omit',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: email.value, lists: lists, sourcePage: location.href, locale: self.getAttribute('locale') || document.documentElement.lang ? locale : undefined }),
        })
          .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
          .then(function (result) {
            if (!result.ok) return fail(result.body.error && result.body.error.message || INVALID);
            form.hidden = true;
            var done = root.querySelector('.done');
            done.textContent = result.body.message;
            done.hidden = false;
          })
          .catch(function () { fail(t('failed')); });
      });
    }
  }
  customElements.define('newsletter-signup', Signup);
})();
