/* Inside the iframe embed (/campaigns/:slug/widget): tells the page that frames it how tall its
 * content is, whenever that changes (the numbers arrive, the frame is narrower, a long translation
 * wraps, the reader's text is larger). The host page's /embed/iframe-resize.js sets the iframe's
 * height from it. The height is the only thing sent, so any page may receive it ('*').
 * That script answers with the colour scheme the iframe element has on its page
 * ({ type: 'membership-drive:scheme', scheme, look }): the document takes that color-scheme, so
 * Chromium paints no opaque canvas around the card, and a card whose theme is "auto" takes the
 * look. Only the iframe's own parent is heard, and only those two words are read. The listener is
 * here, set before the first height goes out, so the answer cannot arrive before it.
 * src/campaigns/README.md, "Light and dark". */
(function () {
  'use strict';
  if (window.parent === window) return;
  var root = document.documentElement;
  var SCHEMES = { light: true, dark: true };
  window.addEventListener('message', function (event) {
    if (event.source !== window.parent) return;
    var data = event.data;
    if (!data || data.type !== 'membership-drive:scheme') return;
    if (SCHEMES[data.scheme] === true) root.style.colorScheme = data.scheme;
    if (root.getAttribute('data-theme-choice') === 'auto' && SCHEMES[data.look] === true) {
      root.setAttribute('data-theme', data.look);
    }
  });
  var last = -1;
  function post() {
    // The body's own height (html and body have no margin): the document's scroll height would
    // never shrink below the iframe's current height.
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: 'membership-drive:height', height: height }, '*');
  }
  function start() {
    post();
    if (typeof ResizeObserver === 'function') new ResizeObserver(post).observe(document.body);
    else setInterval(post, 500);
    window.addEventListener('load', post);
  }
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
