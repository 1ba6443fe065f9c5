// The staff dashboard: signs in with the staff API, reads the reports with the bearer token and
// draws them with Chart.js. Every chart has a table beside it for screen readers.
(function () {
  'use strict';
  var TOKEN = 'md-staff-token';
  var $ = function (id) { return document.getElementById(id); };
  var charts = {};
  var money = function (minor, currency) {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency: currency.toUpperCase() }).format(minor / 100);
  };

  function api(path) {
    return fetch(path, { headers: { authorization: 'Bearer ' + sessionStorage.getItem(TOKEN) } }).then(function (r) {
      if (r.status === 401) { sessionStorage.removeItem(TOKEN); showSignIn(); throw new Error('signed out'); }
      if (!r.ok) throw new Error(path + ': ' + r.status);
      return r.json();
    });
  }

  function table(container, headers, rows) {
    var html = '<table><thead><tr>' + headers.map(function (h) { return '<th scope="col">' + h + '</th>'; }).join('') + '</tr></thead><tbody>';
    rows.forEach(function (row) { html += '<tr>' + row.map(function (c) { return '<td>' + String(c).replace(/[&<>]/g, function (x) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;' }[x]; }) + '</td>'; }).join('') + '</tr>'; });
    $(container).innerHTML = html + '</tbody></table>';
  }

  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ animation: false, responsive: true }, config.options || {});
    charts[id] = new window.Chart($(id), config);
  }

  function load() {
    var from = $('from').value, to = $('to').value;
    var q = '?from=' + from + '&to=' + to;
    api('/reports/summary' + q).then(function (s) {
      var mrr = Object.keys(s.mrr).map(function (c) { return money(s.mrr[c], c); }).join(' + ') || '0';
      $('summary').innerHTML = '';
      [['New', s.new], ['Churned', s.churned], ['Net growth', s.netGrowth], ['Churn rate', (s.churnRate * 100).toFixed(1) + '%'], ['MRR', mrr]].forEach(function (pair) {
        var div = document.createElement('div');
        div.className = 'stat';
        div.innerHTML = '<strong></strong><span></span>';
        div.firstChild.textContent = pair[1];
        div.lastChild.textContent = pair[0];
        div.setAttribute('data-stat', pair[0]);
        $('summary').appendChild(div);
      });
    });
    api('/reports/revenue?by=month&from=' + from.slice(0, 7) + '&to=' + to.slice(0, 7)).then(function (r) {
      var months = Array.from(new Set(r.rows.map(function (x) { return x.period; })));
      var currencies = Array.from(new Set(r.rows.map(function (x) { return x.currency; })));
      chart('revenue-chart', {
        type: 'bar',
        data: { labels: months, datasets: currencies.map(function (c) {
          return { label: 'Net ' + c.toUpperCase(), data: months.map(function (m) { var row = r.rows.find(function (x) { return x.period === m && x.currency === c; }); return row ? row.net / 100 : 0; }) };
        }) },
      });
      table('revenue-table', ['Month', 'Currency', 'Gross', 'Refunds', 'Disputes', 'Net', 'Stripe fees'], r.rows.map(function (x) {
        var fees = x.settlement.map(function (s) { return money(s.fees, s.currency); }).join(' + ') || '—';
        return [x.period, x.currency.toUpperCase(), money(x.gross, x.currency), money(x.refunds, x.currency), money(x.disputes, x.currency), money(x.net, x.currency), fees];
      }));
    });
    api('/reports/growth' + q).then(function (g) {
      var days = g.days.map(function (d) { return d.day; });
      var currencies = Array.from(new Set([].concat.apply([], g.days.map(function (d) { return Object.keys(d.mrr); }))));
      chart('joined-chart', { type: 'bar', data: { labels: days, datasets: [
        { label: 'Joined', data: g.days.map(function (d) { return d.joined; }) },
        { label: 'Left', data: g.days.map(function (d) { return -d.ended; }) },
      ] } });
      table('joined-table', ['Day', 'Joined', 'Left'], g.days.map(function (d) { return [d.day, d.joined, d.ended]; }));
      chart('active-chart', {
        type: 'line',
        data: { labels: days, datasets: [{ label: 'Active supporters', data: g.days.map(function (d) { return d.active; }), yAxisID: 'members' }].concat(currencies.map(function (c) {
          return { label: 'MRR ' + c.toUpperCase(), data: g.days.map(function (d) { return (d.mrr[c] || 0) / 100; }), yAxisID: 'money', borderDash: [4, 3] };
        })) },
        options: { scales: { members: { type: 'linear', position: 'left', beginAtZero: true }, money: { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } } },
      });
      table('active-table', ['Day', 'Active supporters'].concat(currencies.map(function (c) { return 'MRR ' + c.toUpperCase(); })), g.days.map(function (d) {
        return [d.day, d.active].concat(currencies.map(function (c) { return money(d.mrr[c] || 0, c); }));
      }));
    });
    api('/reports/gifts').then(function (g) {
      var steps = ['purchased', 'delivered', 'redeemed', 'convertedToPaid', 'expired', 'refunded'];
      chart('gifts-chart', { type: 'bar', data: { labels: steps, datasets: [{ label: 'Gifts', data: steps.map(function (k) { return g[k]; }) }] } });
      table('gifts-table', ['Step', 'Gifts'], steps.map(function (k) { return [k, g[k]]; }));
    });
    api('/reports/campaigns').then(function (list) {
      if (!list.campaigns.length) return;
      return api('/reports/campaigns/' + list.campaigns[0].slug).then(function (c) {
        chart('campaign-chart', {
          type: 'line',
          data: { labels: c.days.map(function (d) { return d.day; }), datasets: [
            { label: 'New members (cumulative)', data: c.days.map(function (d) { return d.cumulative; }) },
            { label: 'Goal', data: c.days.map(function () { return c.goal; }), borderDash: [6, 4], pointRadius: 0 },
          ] },
        });
        table('campaign-table', ['Day', 'Added', 'Taken back', 'Total', 'Goal'], c.days.map(function (d) { return [d.day, d.added, d.revoked, d.cumulative, d.goal]; }));
      });
    });
  }

  function showSignIn() { $('sign-in').hidden = false; $('dashboard').hidden = true; }
  function showDashboard() {
    $('sign-in').hidden = true;
    $('dashboard').hidden = false;
    if (!$('to').value) {
      var today = new Date();
      $('to').value = today.toISOString().slice(0, 10);
      $('from').value = new Date(today.getTime() - 30 * 86400000).toISOString().slice(0, 10);
    }
    load();
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('sign-in').addEventListener('submit', function (e) {
      e.preventDefault();
      fetch('/staff/sign-in', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: $('email').value, password: $('password').value }) })
        .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
        .then(function (res) {
          if (!res.ok) { $('sign-in-error').textContent = res.body.error.message; return; }
          sessionStorage.setItem(TOKEN, res.body.accessToken);
          showDashboard();
        });
    });
    $('range').addEventListener('submit', function (e) { e.preventDefault(); load(); });
    function download(button, path) {
      fetch(path, { headers: { authorization: 'Bearer ' + sessionStorage.getItem(TOKEN) } })
        .then(function (r) { return r.blob(); })
        .then(function (blob) {
          var a = document.createElement('a');
          a.href = URL.createObjectURL(blob);
          a.download = button.getAttribute('data-file');
          document.body.appendChild(a);
          a.click();
          a.remove();
        });
    }
    $('download').addEventListener('click', function () { download(this, this.getAttribute('data-path')); });
    $('download-revenue').addEventListener('click', function () {
      download(this, '/reports/revenue?format=csv&by=month&from=' + $('from').value.slice(0, 7) + '&to=' + $('to').value.slice(0, 7));
    });
    if (sessionStorage.getItem(TOKEN)) showDashboard(); else showSignIn();
  });
})();
