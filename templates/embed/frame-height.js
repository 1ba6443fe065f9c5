/* Inside the iframe embed (/campaigns/:slug/widget): tells the page that frames it how tall its
 * content is, whenever that changes (the numbers arrive, the frame is narrower, a long translation
 * wraps, the reader's text is larger). The host page's /embed/iframe-resize.js sets the iframe's
 * height from it. The height is the only thing sent, so any page may receive it ('*'). */
(function () {
  'use strict';
  if (window.parent === window) return;
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
