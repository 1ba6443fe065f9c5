/* On the news site, beside the iframe embed: sizes each of this service's iframes to its content,
 * so nothing is cut off on a phone, in a long translation or with large text.
 *   <iframe src="https://MEMBERS_HOST/campaigns/birthday/widget" ... height="340"></iframe>
 *   <script src="https://MEMBERS_HOST/embed/iframe-resize.js" async></script>
 * It accepts a height only from a window of the service's own origin (the one this script came
 * from) that is one of the page's iframes, and only between MIN and MAX pixels. Without it the
 * iframe keeps the height in its snippet. It answers each such iframe with the colour scheme its
 * element has on this page, so the framed page paints no block around its card and a card of theme
 * "auto" looks like the page. See src/campaigns/README.md ("Light and dark"). */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src, window.location.href).origin;
  var MIN = 40;
  var MAX = 2000;
  // Pasted twice (two embeds, one snippet each): one listener per service is enough.
  var key = '__membershipFrames ' + origin;
  if (window[key]) return;
  window[key] = true;
  var dark = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

  /* The scheme Chromium uses for an element (its color-scheme, or the page's
   * <meta name="color-scheme"> where it declares none): light unless dark is declared, and where
   * both are, the reader's system setting. */
  function schemeOf(el) {
    var value = window.getComputedStyle(el).colorScheme || 'normal';
    if (value === 'normal') {
      var meta = document.querySelector('meta[name="color-scheme"]');
      value = meta ? meta.getAttribute('content') || 'normal' : 'normal';
    }
    var words = String(value).split(/\s+/);
    var hasDark = words.indexOf('dark') >= 0;
    var hasLight = words.indexOf('light') >= 0;
    if (hasDark && (!hasLight || (dark && dark.matches))) return 'dark';
    return 'light';
  }
  /* What the page looks like around the iframe: the scheme it declares there (the snippet pins
   * the iframe element's own to light), or where it declares none, a dark background behind the
   * iframe (the nearest one painted). */
  function lookOf(frame) {
    var parent = frame.parentElement || document.documentElement;
    if (schemeOf(parent) === 'dark') return 'dark';
    for (var el = parent; el; el = el.parentElement) {
      var rgba = window.getComputedStyle(el).backgroundColor.match(/[\d.]+/g);
      if (!rgba || (rgba.length > 3 && Number(rgba[3]) === 0)) continue;
      var lum = (0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]) / 255;
      return lum < 0.4 ? 'dark' : 'light';
    }
    return 'light';
  }
  function tell(frame) {
    if (!frame.contentWindow) return;
    // scheme: the iframe element's (light with the snippet's style; an older snippet's frame follows the page).
    frame.contentWindow.postMessage(
      { type: 'membership-drive:scheme', scheme: schemeOf(frame), look: lookOf(frame) },
      origin,
    );
  }
  // The reader switches their system between light and dark: frames of a "light dark" page follow.
  if (dark && dark.addEventListener) {
    dark.addEventListener('change', function () {
      var frames = document.getElementsByTagName('iframe');
      for (var i = 0; i < frames.length; i++) tell(frames[i]); // posted to our origin only
    });
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== origin) return;
    var data = event.data;
    if (!data || data.type !== 'membership-drive:height') return;
    var height = Number(data.height);
    if (!isFinite(height)) return;
    var frames = document.getElementsByTagName('iframe');
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        frames[i].style.height = Math.min(MAX, Math.max(MIN, Math.ceil(height))) + 'px';
        tell(frames[i]);
        return;
      }
    }
  });
})();
