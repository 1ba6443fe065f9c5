/* Newsletter sign-up form for the news site. One line on any page:
 *   <script src="https://MEMBERS_HOST/embed/newsletter-form.js" async></script>
 *   <newsletter-signup lists="editors-picks,explaining-ukraine"></newsletter-signup>
 * Without JavaScript, link to https://MEMBERS_HOST/newsletters (a plain HTML form). */
(function () {
  'use strict';
  if (!window.customElements || customElements.get('newsletter-signup')) return;
  var script = document.currentScript;
  var origin = script ? new URL(script.src).origin : '';
  var INVALID = 'Please enter a correct email address';
  var CSS =
    ':host{display:block}.box{color:#18181b;font:16px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;text-align:left}' +
    'label{display:block;margin:4px 0}input[type=email]{font:inherit;padding:8px;width:100%;box-sizing:border-box;border:1px solid #a1a1aa;border-radius:4px}' +
    'input[aria-invalid=true]{border-color:#b91c1c}.error{color:#b91c1c;font-size:14px;min-height:1.2em;margin:4px 0}' +
    'button{font:inherit;font-weight:700;padding:10px 18px;margin-top:8px;background:var(--ns-accent,#1a56db);color:#fff;border:0;border-radius:4px;cursor:pointer}' +
    'input:focus-visible,button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}.done{font-weight:700}';

  class Signup extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      var root = this.attachShadow({ mode: 'open' });
      var self = this;
      root.innerHTML = '<style>' + CSS + '</style><div class="box"><form novalidate>' +
        '<fieldset style="border:0;padding:0;margin:0"><legend style="font-weight:700">Newsletters</legend><div class="lists"></div></fieldset>' +
        '<label for="email">Email</label><input id="email" name="email" type="email" required autocomplete="email" aria-describedby="error">' +
        '<p class="error" id="error" aria-live="polite"></p><button type="submit">Sign up</button></form>' +
        '<p class="done" role="status" hidden></p></div>';
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
          body: JSON.stringify({ email: email.value, lists: lists, sourcePage: location.href, locale: self.getAttribute('locale') || undefined }),
        })
          .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
          .then(function (result) {
            if (!result.ok) return fail(result.body.error && result.body.error.message || INVALID);
            form.hidden = true;
            var done = root.querySelector('.done');
            done.textContent = result.body.message;
            done.hidden = false;
          })
          .catch(function () { fail('Something went wrong. Please try again.'); });
      });
    }
  }
  customElements.define('newsletter-signup', Signup);
})();
