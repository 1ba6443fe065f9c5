/* The console works without this script. With it: the embed preview follows the options as they
 * change (no reload), and each snippet gets a Copy button. */
(function () {
  'use strict';
  var form = document.getElementById('embed-options');
  var previews = document.getElementById('previews');
  if (form && previews) {
    var slug = previews.getAttribute('data-slug');
    var update = function () {
      var data = new FormData(form);
      var locale = data.get('locale') || 'en';
      var accent = /^#[0-9a-fA-F]{6}$/.test(String(data.get('accent') || '')) ? String(data.get('accent')) : '';
      var supporters = data.get('supporters') === '1';
      var query = new URLSearchParams({ locale: String(locale) });
      if (accent) query.set('accent', accent);
      if (supporters) query.set('supporters', '1');
      var theme = String(data.get('theme') || 'auto');
      if (theme === 'light' || theme === 'dark') query.set('theme', theme);
      previews.className = 'previews theme-' + (data.get('page') === 'dark' ? 'dark' : 'light');
      // A new element, so the widget renders again with its new attributes.
      var old = document.getElementById('preview-widget');
      var widget = document.createElement('membership-goal');
      widget.id = 'preview-widget';
      widget.setAttribute('campaign', slug);
      widget.setAttribute('locale', String(locale));
      if (accent) widget.setAttribute('accent', accent);
      if (supporters) widget.setAttribute('show-supporters', '');
      if (query.has('theme')) widget.setAttribute('theme', theme);
      old.replaceWith(widget);
      document.getElementById('preview-iframe').src = '/campaigns/' + slug + '/widget?' + query;
      document.getElementById('preview-image').src = '/campaigns/' + slug + '/progress.svg?' + query;
      // The snippets come from the server, which writes them one way for both paths.
      fetch('/console/campaigns/' + slug + '/snippets?' + query, { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          document.getElementById('snippet-widget').value = s.widget;
          document.getElementById('snippet-iframe').value = s.iframe;
          document.getElementById('snippet-image').value = s.image;
        });
    };
    form.addEventListener('input', update);
    form.addEventListener('change', update);
  }
  Array.prototype.forEach.call(document.querySelectorAll('button.copy'), function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      var field = document.getElementById(button.getAttribute('data-copy'));
      field.select();
      var done = function () { button.textContent = button.getAttribute('data-copied') || 'Copied'; };
      if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand('copy'); done(); });
      else { document.execCommand('copy'); done(); }
    });
  });
})();
