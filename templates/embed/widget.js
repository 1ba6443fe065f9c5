/* Membership goal widget. One line on any page:
 *   <script src="https://MEMBERS_HOST/widget.js" async></script>
 *   <membership-goal campaign="birthday"></membership-goal>   (or <div data-membership-goal="birthday"></div>)
 * Attributes: locale="en|uk" (default: the page's lang), refresh-interval="60" (seconds),
 * accent="#1a56db", show-supporters ("All thanks to 12,000 supporters"), theme="light|dark|auto"
 * (default auto: the colour scheme the page declares for the element, its color-scheme or
 * <meta name="color-scheme">; where it declares both, the reader's system setting; where none,
 * light, so a light page never shows a dark card; src/campaigns/README.md, "Light and dark"). Options are attributes, so a new
 * one is one more attribute (OPTIONS below). Theme with CSS custom properties on the element:
 * --mg-bg, --mg-text, --mg-muted, --mg-border, --mg-accent, --mg-link, --mg-track, --mg-font; or
 * style the parts: membership-goal::part(box|title|track|bar|count|days|supporters|join|gift|error). The count
 * links to the verify page and names its checkpoint (title; data-checkpoint-* on the element).
 * Styles live in a Shadow DOM, so the page's CSS cannot break it, as a constructed stylesheet, so
 * a page whose Content-Security-Policy allows no inline styles shows it styled (docs/security.md).
 * The words come from the service's message catalogue (src/shared/messages.ts), written in below
 * when this file is served. */
(function () {
  'use strict';
  if (window.customElements && customElements.get('membership-goal')) return;
  var script = document.currentScript;
  var origin = script ? new URL(script.src).origin : '';
  var MESSAGES = /*@MESSAGES@*/ { en: {}, uk: {} };
  var INTL = { en: 'en-GB', uk: 'uk-UA' };
  var ORIGINS = /*@MEMBER_ORIGINS@*/ [];
  var OPTIONS = ['locale', 'refresh-interval', 'accent', 'show-supporters', 'show-sponsored', 'theme', 'placement', 'data-placement'];
  /* The catalogue's message with {placeholders} filled; plural forms by Intl.PluralRules. */
  function t(locale, key, vars) {
    var m = MESSAGES[locale][key] || MESSAGES.en[key] || key;
    vars = vars || {};
    if (typeof m !== 'string') m = m[new Intl.PluralRules(INTL[locale]).select(Number(vars.count) || 0)] || m.other;
    var fmt = new Intl.NumberFormat(INTL[locale]);
    return m.replace(/\{(\w+)\}/g, function (whole, name) {
      var v = vars[name];
      return v === undefined ? whole : typeof v === 'number' ? fmt.format(v) : String(v);
    });
  }
  /* Whether the reader is a member, asked once per page and shared with member.js and the button;
   * only from an origin the service answers (src/accounts/README.md). Members are thanked, not asked. */
  var NOT_A_MEMBER = { member: false, plan: null, token: null, expiresAt: null };
  function memberAnswer() {
    var api = (window.membership = window.membership || {});
    if (!api.ready) api.ready = ORIGINS.indexOf(window.location.origin) < 0 ? Promise.resolve(NOT_A_MEMBER) :
      fetch(origin + '/member/status', { credentials: 'include', cache: 'no-store' })
        .then(function (r) { return r.ok ? r.json() : NOT_A_MEMBER; })
        .catch(function () { return NOT_A_MEMBER; });
    return api.ready;
  }
  // Light by default; dark with theme="dark", or (auto) where the page declares a dark scheme, or
  // declares "light dark" and the reader's system is dark (the .follow box, see declaredScheme).
  var DARK = '--bg:var(--mg-bg,#18181b);--fg:var(--mg-text,#f4f4f5);--muted:var(--mg-muted,#d4d4d8);' +
    '--line:var(--mg-border,#52525b);--track:var(--mg-track,#3f3f46);--link:var(--mg-link,#93c5fd);--err:#fca5a5';
  var CSS =
    // Inherited properties (colour, font) would flow in from the host page through the element
    // itself, so the box sets every one of them explicitly.
    ':host{display:block}' +
    '.box{--bg:var(--mg-bg,#fff);--fg:var(--mg-text,#18181b);--muted:var(--mg-muted,#52525b);--line:var(--mg-border,#e4e4e7);' +
    '--track:var(--mg-track,#e4e4e7);--link:var(--mg-link,var(--mg-accent,#1a56db));--err:#b91c1c;' +
    'border:1px solid var(--line);border-radius:8px;padding:16px;background:var(--bg);color:var(--fg);' +
    'font-family:var(--mg-font,system-ui,-apple-system,Segoe UI,Roboto,sans-serif);font-size:16px;font-weight:400;' +
    'line-height:1.4;text-align:left;letter-spacing:normal;text-transform:none;font-style:normal}' +
    '@media (prefers-color-scheme:dark){:host(:not([theme=light]):not([theme=dark])) .box.follow{' + DARK + '}}' +
    ':host([theme=dark]) .box,:host(:not([theme=light])) .box.dark{' + DARK + '}' +
    'h2{font-size:18px;margin:0 0 8px;font-weight:700;color:inherit}' +
    '.track{height:14px;border-radius:7px;background:var(--track);overflow:hidden}' +
    '.bar{height:100%;width:0;background:var(--mg-accent,#1a56db);transition:width .6s ease}' +
    '@media (prefers-reduced-motion:reduce){.bar{transition:none}}' +
    '.numbers{display:flex;justify-content:space-between;gap:8px;margin:8px 0 12px;font-size:15px}' +
    '.supporters{margin:0 0 12px;font-size:15px;color:var(--muted)}' +
    '.sponsored{margin:0 0 12px;font-size:14px;color:var(--muted)}' +
    '.actions{display:flex;flex-wrap:wrap;gap:8px}.thanks{margin:0 0 12px;font-weight:700}' +
    'a{display:inline-block;padding:10px 16px;border-radius:4px;font-weight:700;text-decoration:none;font-size:15px}' +
    'a{border:2px solid var(--mg-accent,#1a56db)}a.join{background:var(--mg-accent,#1a56db);color:#fff}a.gift{color:var(--link)}' +
    // The count links to the verify page: it looks like the text it was, underlined, the same size.
    'a.count{padding:0;border:0;border-radius:0;font-weight:inherit;color:inherit;text-decoration:underline dotted;text-underline-offset:3px}' +
    'a:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}.error{color:var(--err);font-size:14px}[hidden]{display:none!important}';

  // One constructed stylesheet for every widget on the page: no <style> element or style
  // attribute, which a strict host policy (style-src without 'unsafe-inline') would block. A
  // browser without constructable stylesheets gets a <style> element instead.
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

  /* The scheme the page declares where the element is: 'dark', 'light', 'follow' (both: the
   * reader's system decides) or 'light' where it declares none. */
  function declaredScheme(el) {
    var value = (window.getComputedStyle && getComputedStyle(el).colorScheme) || 'normal';
    if (value === 'normal') {
      var meta = document.querySelector('meta[name="color-scheme"]');
      value = (meta && meta.getAttribute('content')) || 'normal';
    }
    var words = String(value).split(/\s+/);
    var dark = words.indexOf('dark') >= 0, light = words.indexOf('light') >= 0;
    return dark && light ? 'follow' : dark ? 'dark' : 'light';
  }

  class Goal extends HTMLElement {}

  Goal.prototype.connectedCallback = function () {
    if (this._root) return;
    this._root = this.attachShadow({ mode: 'open' });
    this._root.innerHTML = '<div class="box" part="box"><h2 part="title"></h2>' +
      '<div class="track" part="track" role="progressbar" aria-valuemin="0"><div class="bar" part="bar"></div></div>' +
      '<div class="numbers"><a class="count" part="count" aria-describedby="checkpoint"></a><span class="days" part="days"></span></div>' +
      '<p id="checkpoint" hidden></p>' +
      '<p class="supporters" part="supporters" hidden></p>' +
      '<p class="sponsored" part="sponsored" hidden></p>' +
      '<p class="thanks" part="thanks" hidden></p>' +
      '<div class="actions" hidden><a class="join" part="join"></a><a class="gift" part="gift"></a></div>' +
      '<p class="error" part="error" hidden></p></div>';
    adoptStyles(this._root);
    this._root.querySelector('.box').classList.add(declaredScheme(this));
    var accent = this.getAttribute('accent');
    if (accent) this.style.setProperty('--mg-accent', accent);
    this._delay = this._interval();
    memberAnswer();
    this._load();
  };
  Goal.prototype.disconnectedCallback = function () { clearTimeout(this._timer); };
  Goal.prototype._slug = function () { return this.getAttribute('campaign') || this.getAttribute('data-membership-goal') || ''; };
  Goal.prototype._locale = function () {
    var l = (this.getAttribute('locale') || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
    return MESSAGES[l] ? l : 'en';
  };
  Goal.prototype._interval = function () { return Math.max(1, Number(this.getAttribute('refresh-interval')) || 60) * 1000; };
  Goal.prototype._load = function () {
    var self = this;
    // no-cache: revalidate with the ETag each time (a cheap 304), so a refresh never shows a stale count.
    fetch(origin + '/campaigns/' + encodeURIComponent(self._slug()) + '/progress', { credentials: 'omit', cache: 'no-cache' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (p) { return memberAnswer().then(function (a) { self._render(p, a.member === true); }); })
      .then(function () { self._delay = self._interval(); self._sponsored(); })
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
  Goal.prototype._render = function (p, member) {
    var l = this._locale(), r = this._root;
    var q = function (s) { return r.querySelector(s); };
    q('h2').textContent = p.title;
    var bar = q('[role=progressbar]'), text = t(l, 'embed.goal', { count: p.count, goal: p.goal });
    bar.setAttribute('aria-valuemax', String(p.goal));
    bar.setAttribute('aria-valuenow', String(p.count));
    bar.setAttribute('aria-valuetext', text + ' (' + p.percent + '%)');
    bar.setAttribute('aria-label', t(l, 'embed.label'));
    q('.bar').style.width = Math.min(100, p.percent) + '%';
    q('.count').textContent = text + ' · ' + p.percent + '%';
    this._checkpoint(p, l);
    q('.days').textContent = p.daysLeft > 0 ? t(l, 'embed.daysLeft', { count: p.daysLeft }) : t(l, 'embed.ended');
    var supporters = q('.supporters');
    // Left out while unknown and at 0: a thank-you to nobody says nothing (progress.service.ts).
    supporters.hidden = !this.hasAttribute('show-supporters') || typeof p.supporters !== 'number' || p.supporters < 1;
    if (!supporters.hidden) supporters.textContent = t(l, 'embed.supporters', { count: p.supporters });
    var join = q('a.join'), gift = q('a.gift'), c = '?campaign=' + encodeURIComponent(p.slug);
    c += '&locale=' + l;
    join.textContent = t(l, 'embed.join'); join.href = origin + '/membership' + c + '&' + this._attribution();
    // A member is thanked, not asked: no view of the ask is counted for them.
    if (!this._seen && !member) { this._seen = true; this._beacon('view'); join.addEventListener('click', this._beacon.bind(this, 'click')); }
    gift.textContent = t(l, 'embed.gift'); gift.href = origin + '/gifts' + c;
    if (window.self !== window.top) { join.target = '_top'; gift.target = '_top'; } // inside the iframe embed
    join.hidden = member; q('.actions').hidden = false; q('.track').hidden = false; // a member may still gift
    q('.thanks').hidden = !member; q('.thanks').textContent = t(l, 'embed.thanksMember');
    q('.error').hidden = true;
  };
  /* Which signed checkpoint of the drive log the number comes from, without taking room: the count
   * links to the verify page, its title and description name the checkpoint (or say none is signed
   * yet), and the element carries data-checkpoint-sequence|size|root|count and data-pending for
   * scripts. The same words as the iframe's and the image's (src/campaigns/progress.service.ts
   * checkpointStatement; README, "What each embed says about the log"). */
  var CHECKPOINT = { sequence: 'data-checkpoint-sequence', size: 'data-checkpoint-size', root: 'data-checkpoint-root', count: 'data-checkpoint-count' };
  Goal.prototype._checkpoint = function (p, l) {
    var c = p.checkpoint, text = t(l, 'embed.noCheckpoint');
    if (c) {
      text = t(l, 'embed.checkpoint', { sequence: c.sequence, count: c.count, size: c.size });
      if (p.pending) text += ' ' + t(l, 'embed.pending', { change: new Intl.NumberFormat(INTL[l], { signDisplay: 'exceptZero' }).format(p.pending) });
    }
    for (var key in CHECKPOINT) { if (c) this.setAttribute(CHECKPOINT[key], String(c[key])); else this.removeAttribute(CHECKPOINT[key]); }
    if (c) this.setAttribute('data-pending', String(p.pending)); else this.removeAttribute('data-pending');
    var link = this._root.querySelector('a.count');
    link.href = origin + '/campaigns/' + encodeURIComponent(p.slug) + '/verify';
    link.title = text;
    this._root.getElementById('checkpoint').textContent = text;
    if (window.self !== window.top) link.target = '_top';
  };
  // Optional: how many readers supporters have sponsored (a line under the numbers when any).
  Goal.prototype._sponsored = function () {
    if (!this.hasAttribute('show-sponsored')) return;
    var self = this, line = this._root.querySelector('.sponsored');
    fetch(origin + '/campaigns/' + encodeURIComponent(self._slug()) + '/sponsored', { credentials: 'omit' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (s) {
        line.textContent = t(self._locale(), 'embed.sponsored', { count: s.readersSponsored });
        line.hidden = !(s.readersSponsored > 0);
      })
      .catch(function () { line.hidden = true; });
  };
  // An unknown campaign says so instead of showing an empty bar and two empty buttons.
  Goal.prototype._failed = function (notFound) {
    var r = this._root, e = r.querySelector('.error'), l = this._locale();
    e.textContent = t(l, notFound ? 'embed.notFound' : 'embed.error');
    e.hidden = false;
    if (notFound) { r.querySelector('.actions').hidden = true; r.querySelector('.track').hidden = true; }
  };

  // Where members come from (src/attribution/README.md): the join link carries the page (no query
  // string), the placement, the referrer and UTM tags; a view and a click are counted by a beacon
  // that carries only the campaign and the placement. No cookie, nothing about the reader.
  Goal.prototype._attribution = function () {
    var framed = window.self !== window.top, q = new URLSearchParams(location.search), a = new URLSearchParams();
    a.set('placement', this.getAttribute('placement') || this.getAttribute('data-placement') || (framed ? 'iframe' : 'widget'));
    a.set('page', framed ? document.referrer.split(/[?#]/)[0] : location.origin + location.pathname);
    if (!framed && document.referrer) a.set('referrer', document.referrer.split(/[?#]/)[0]);
    ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'].forEach(function (k) {
      if (!framed && q.get(k)) a.set(k, q.get(k).slice(0, 100));
    });
    return a;
  };
  Goal.prototype._beacon = function (event) {
    var url = origin + '/attribution/events?event=' + event + '&campaign=' + encodeURIComponent(this._slug()) +
      '&placement=' + encodeURIComponent(this._attribution().get('placement'));
    // Not sendBeacon: it always sends the reader's cookies for the service's site. A keepalive fetch
    // outlives the page as a beacon does, and sends none (src/attribution/README.md).
    if (typeof fetch === 'function') fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'omit', keepalive: true }).catch(function () {});
    else if (navigator.sendBeacon) navigator.sendBeacon(url);
  };

  customElements.define('membership-goal', Goal);
  // The data-attribute form: <div data-membership-goal="slug"> gets a widget inside it.
  var nodes = document.querySelectorAll('[data-membership-goal]');
  for (var i = 0; i < nodes.length; i++) {
    var el = document.createElement('membership-goal');
    el.setAttribute('campaign', nodes[i].getAttribute('data-membership-goal'));
    OPTIONS.forEach(function (a) { if (nodes[i].hasAttribute(a)) el.setAttribute(a, nodes[i].getAttribute(a)); });
    nodes[i].appendChild(el);
  }
})();
