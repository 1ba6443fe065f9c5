/* On the news site, beside the iframe embed: sizes each of this service's iframes to its content,
 * so nothing is cut off on a phone, in a long translation or with large text.
 *   <iframe src="https://MEMBERS_HOST/campaigns/birthday/widget" ... height="300"></iframe>
 *   <script src="https://MEMBERS_HOST/embed/iframe-resize.js" async></script>
 * It accepts a height only from a window of the service's own origin (the one this script came
 * from) that is one of the page's iframes, and only between MIN and MAX pixels. Without it the
 * iframe keeps the height in its snippet. See src/campaigns/README.md. */
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
        return;
      }
    }
  });
})();
