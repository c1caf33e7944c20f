// The resident page: refresh status, energy, power and cost from live.json every few
// seconds. Without this script the page still works (forms post and redirect back).
(function () {
  "use strict";
  var box = document.getElementById("connector");
  if (!box) { return; }
  var url = box.getAttribute("data-live");
  var PERIOD_MS = 3000;

  function set(root, field, value) {
    var el = root.querySelector('[data-field="' + field + '"]');
    if (el && value !== null && value !== undefined && el.textContent !== String(value)) {
      el.textContent = value;
    }
  }

  function shown() {
    var ids = [];
    document.querySelectorAll("[data-session]").forEach(function (el) {
      ids.push(el.getAttribute("data-session"));
    });
    return ids.sort().join(",");
  }

  function apply(data) {
    var c = data.connector;
    var status = box.querySelector('[data-field="status"]');
    if (status && status.getAttribute("data-status") !== c.status) {
      status.setAttribute("data-status", c.status);
      status.className = "status status-" + c.status;
      status.textContent = c.status_text;
    }
    set(document, "at", c.at);
    var account = data.account;
    var signedIn = document.getElementById("session") !== null;
    if (signedIn !== (account !== null)) { window.location.replace(window.location.pathname); return; }
    if (!account) { return; }
    var ids = account.sessions.map(function (s) { return String(s.id); }).sort().join(",");
    if (ids !== shown()) { window.location.replace(window.location.pathname); return; }
    account.sessions.forEach(function (s) {
      var el = document.querySelector('[data-session="' + s.id + '"]');
      if (!el) { return; }
      set(el, "energy", s.energy_kwh || "0.00");
      set(el, "power", s.power_kw || "–");
      set(el, "cost", s.cost_yuan || "–");
    });
    if (account.wallet_yuan !== null) {
      var w = document.querySelector('[data-field="wallet"]');
      if (w) { w.textContent = w.textContent.replace(/^[-0-9.]+/, account.wallet_yuan); }
    }
  }

  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* offline for a moment: try again next tick */ })
      .finally(function () { window.setTimeout(tick, PERIOD_MS); });
  }
  window.setTimeout(tick, PERIOD_MS);
}());
