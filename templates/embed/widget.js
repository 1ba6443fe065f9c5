/* Membership goal widget. One line on any page:
 *   <script src="https://MEMBERS_HOST/widget.js" async></script>
 *   <membership-goal campaign="birthday"></membership-goal>   (or <div data-membership-goal="birthday"></div>)
 * Attributes: locale="en|uk" (default: the page's lang), refresh-interval="60" (seconds),
 * accent="#1a56db", show-sponsored (also shows "N readers sponsored" by supporters). Theme with CSS custom properties on the element: --mg-accent, --mg-text,
 * --mg-track, --mg-font. Styles live in a Shadow DOM, so the page's CSS cannot break it. */
(function () {
  'use strict';
  if (window.customElements && customElements.get('membership-goal')) return;
  var script = document.currentScript;
  var origin = script ? new URL(script.src).origin : '';
  var TEXT = {
    en: {
      goal: function (c, g) { return c + ' of ' + g + ' new members'; },
      days: function (d) { return d === 1 ? '1 day left' : d + ' days left'; },
      ended: 'The drive has ended', join: 'Become a member', gift: 'Gift a membership',
      label: 'Progress toward the goal', error: 'Progress is unavailable right now.',
      notFound: 'This campaign was not found. Check the campaign name in the embed code.',
      sponsored: function (n) { return n === 1 ? '1 reader sponsored by supporters' : n + ' readers sponsored by supporters'; }
    },
    uk: {
      goal: function (c, g) { return c + ' з ' + g + ' нових членів'; },
      days: function (d) { var m10 = d % 10, m100 = d % 100;
        var w = m10 === 1 && m100 !== 11 ? 'день' : m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14) ? 'дні' : 'днів';
        return 'Залишилося ' + d + ' ' + w; },
      ended: 'Кампанію завершено', join: 'Стати членом спільноти', gift: 'Подарувати членство',
      label: 'Поступ до мети', error: 'Дані тимчасово недоступні.',
      notFound: 'Кампанію не знайдено. Перевірте назву кампанії в коді вставки.',
      sponsored: function (n) { return 'Членств, оплачених прихильниками для інших читачів: ' + n; }
    }
  };
  var CSS =
    // Inherited properties (colour, font) would flow in from the host page through the element
    // itself, so the box sets every one of them explicitly.
    ':host{display:block}' +
    '.box{border:1px solid #e4e4e7;border-radius:8px;padding:16px;background:#fff;color:var(--mg-text,#18181b);' +
    'font-family:var(--mg-font,system-ui,-apple-system,Segoe UI,Roboto,sans-serif);font-size:16px;font-weight:400;' +
    'line-height:1.4;text-align:left;letter-spacing:normal;text-transform:none;font-style:normal}' +
    'h2{font-size:18px;margin:0 0 8px;font-weight:700;color:inherit}' +
    '.track{height:14px;border-radius:7px;background:var(--mg-track,#e4e4e7);overflow:hidden}' +
    '.bar{height:100%;width:0;background:var(--mg-accent,#1a56db);transition:width .6s ease}' +
    '@media (prefers-reduced-motion:reduce){.bar{transition:none}}' +
    '.numbers{display:flex;justify-content:space-between;gap:8px;margin:8px 0 12px;font-size:15px}' +
    '.sponsored{margin:0 0 12px;font-size:14px}' +
    '.actions{display:flex;flex-wrap:wrap;gap:8px}' +
    'a{display:inline-block;padding:10px 16px;border-radius:4px;font-weight:700;text-decoration:none;font-size:15px}' +
    'a{border:2px solid var(--mg-accent,#1a56db)}a.join{background:var(--mg-accent,#1a56db);color:#fff}a.gift{color:var(--mg-accent,#1a56db)}' +
    'a:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}.error{color:#b91c1c;font-size:14px}[hidden]{display:none!important}';

  class Goal extends HTMLElement {}

  Goal.prototype.connectedCallback = function () {
    if (this._root) return;
    this._root = this.attachShadow({ mode: 'open' });
    this._root.innerHTML = '<style>' + CSS + '</style><div class="box" part="box"><h2></h2>' +
      '<div class="track" role="progressbar" aria-valuemin="0"><div class="bar"></div></div>' +
      '<div class="numbers"><span class="count"></span><span class="days"></span></div>' +
      '<p class="sponsored" hidden></p>' +
      '<div class="actions" hidden><a class="join" part="join"></a><a class="gift" part="gift"></a></div>' +
      '<p class="error" hidden></p></div>';
    var accent = this.getAttribute('accent');
    if (accent) this.style.setProperty('--mg-accent', accent);
    this._delay = this._interval();
    this._load();
  };
  Goal.prototype.disconnectedCallback = function () { clearTimeout(this._timer); };
  Goal.prototype._slug = function () { return this.getAttribute('campaign') || this.getAttribute('data-membership-goal') || ''; };
  Goal.prototype._locale = function () {
    var l = (this.getAttribute('locale') || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
    return TEXT[l] ? l : 'en';
  };
  Goal.prototype._interval = function () { return Math.max(1, Number(this.getAttribute('refresh-interval')) || 60) * 1000; };
  Goal.prototype._load = function () {
    var self = this;
    // no-cache: revalidate with the ETag each time (a cheap 304), so a refresh never shows a stale count.
    fetch(origin + '/campaigns/' + encodeURIComponent(self._slug()) + '/progress', { credentials: 'omit', cache: 'no-cache' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (p) { self._render(p); self._delay = self._interval(); self._sponsored(); })
      .catch(function (e) { self._failed(e && e.message === '404'); self._delay = Math.min(self._delay * 2, 600000); })
      .then(function () { self._schedule(); });
  };
  Goal.prototype._schedule = function () {
    var self = this;
    clearTimeout(this._timer);
    this._timer = setTimeout(function () {
      if (document.hidden) return self._schedule(); // no polling from background tabs
      self._load();
    }, this._delay);
  };
  Goal.prototype._render = function (p) {
    var t = TEXT[this._locale()], r = this._root, fmt = new Intl.NumberFormat(this._locale() === 'uk' ? 'uk-UA' : 'en-US');
    var q = function (s) { return r.querySelector(s); };
    q('h2').textContent = p.title;
    var bar = q('[role=progressbar]'), text = t.goal(fmt.format(p.count), fmt.format(p.goal));
    bar.setAttribute('aria-valuemax', String(p.goal));
    bar.setAttribute('aria-valuenow', String(p.count));
    bar.setAttribute('aria-valuetext', text + ' (' + p.percent + '%)');
    bar.setAttribute('aria-label', t.label);
    q('.bar').style.width = Math.min(100, p.percent) + '%';
    q('.count').textContent = text + ' · ' + p.percent + '%';
    q('.days').textContent = p.daysLeft > 0 ? t.days(p.daysLeft) : t.ended;
    var join = q('a.join'), gift = q('a.gift'), c = '?campaign=' + encodeURIComponent(p.slug);
    join.textContent = t.join; join.href = origin + '/membership' + c;
    gift.textContent = t.gift; gift.href = origin + '/gifts' + c;
    if (window.self !== window.top) { join.target = '_top'; gift.target = '_top'; } // inside the iframe embed
    q('.actions').hidden = false; q('.track').hidden = false;
    q('.error').hidden = true;
  };
  // Optional: how many readers supporters have sponsored (a line under the numbers when any).
  Goal.prototype._sponsored = function () {
    if (!this.hasAttribute('show-sponsored')) return;
    var self = this, line = this._root.querySelector('.sponsored');
    fetch(origin + '/campaigns/' + encodeURIComponent(self._slug()) + '/sponsored', { credentials: 'omit' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (s) {
        line.textContent = TEXT[self._locale()].sponsored(s.readersSponsored);
        line.hidden = !(s.readersSponsored > 0);
      })
      .catch(function () { line.hidden = true; });
  };
  // An unknown campaign says so instead of showing an empty bar and two empty buttons.
  Goal.prototype._failed = function (notFound) {
    var r = this._root, e = r.querySelector('.error'), t = TEXT[this._locale()];
    e.textContent = notFound ? t.notFound : t.error;
    e.hidden = false;
    if (notFound) { r.querySelector('.actions').hidden = true; r.querySelector('.track').hidden = true; }
  };

  customElements.define('membership-goal', Goal);
  // The data-attribute form: <div data-membership-goal="slug"> gets a widget inside it.
  var nodes = document.querySelectorAll('[data-membership-goal]');
  for (var i = 0; i < nodes.length; i++) {
    var el = document.createElement('membership-goal');
    el.setAttribute('campaign', nodes[i].getAttribute('data-membership-goal'));
    ['locale', 'refresh-interval', 'accent', 'show-sponsored'].forEach(function (a) { if (nodes[i].hasAttribute(a)) el.setAttribute(a, nodes[i].getAttribute(a)); });
    nodes[i].appendChild(el);
  }
})();
