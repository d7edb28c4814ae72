// Tocsin dashboard: live alerts over SSE, acknowledge / resolve buttons, sign-in.
// Untrusted text (titles, sources) only ever goes through textContent, never innerHTML.
"use strict";

(function () {
  const STATUS_AFTER = { acknowledged: (s) => (s === "open" ? "acknowledged" : s), resolved: () => "resolved", reopened: () => "open" };

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }

  function button(action, label) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.action = action;
    b.textContent = label;
    return b;
  }

  function alertRow(a) {
    const tr = document.createElement("tr");
    tr.dataset.alertId = a.alert_id;
    tr.className = "new sev-" + a.severity;
    tr.appendChild(cell(a.raised_at || ""));
    tr.appendChild(cell(a.severity, "sev"));
    tr.appendChild(cell(a.rule_id));
    const title = cell("", "title");
    const link = document.createElement("a");
    link.href = "/ui/alerts/" + encodeURIComponent(a.alert_id);
    link.textContent = a.title;
    title.appendChild(link);
    tr.appendChild(title);
    tr.appendChild(cell((a.countries || []).join(", ")));
    tr.appendChild(cell((a.sources || []).join(", ")));
    const status = cell(a.status || "open", "status");
    status.dataset.status = a.status || "open";
    tr.appendChild(status);
    const actions = cell("", "actions");
    actions.appendChild(button("ack", "Acknowledge"));
    actions.appendChild(document.createTextNode(" "));
    actions.appendChild(button("resolve", "Resolve"));
    tr.appendChild(actions);
    return tr;
  }

  function setStatus(alertId, kind) {
    const change = STATUS_AFTER[kind];
    if (!change) return;
    document.querySelectorAll("[data-alert-id]").forEach((el) => {
      if (el.dataset.alertId !== alertId) return;
      el.querySelectorAll(".status").forEach((s) => {
        const next = change(s.dataset.status);
        s.dataset.status = next;
        s.textContent = next;
      });
    });
  }

  function follow() {
    const table = document.querySelector("#alerts tbody");
    const detail = document.querySelector("article.alert");
    if (!table && !detail) return;
    const live = document.getElementById("live");
    const show = (state, text) => { if (live) { live.dataset.state = state; live.textContent = text; } };
    // Resume where the page's list was read (and, on a reconnect, EventSource itself sends
    // the last event id): alerts raised in between come first. "resync": that cannot be done
    // exactly, so reload the list, at most every 30 s (a read model far behind would
    // otherwise reload the page in a loop); meanwhile say that alerts may be missing.
    const list = document.getElementById("alerts") || detail;
    const after = list ? list.dataset.after : "";
    const connect = () => {
      const source = new EventSource("/stream/alerts" + (after ? "?after=" + encodeURIComponent(after) : ""));
      source.addEventListener("ready", () => show("open", "live"));
      source.addEventListener("resync", () => {
        const key = "tocsin-resync-at";
        const last = Number(sessionStorage.getItem(key) || 0);
        if (list && Date.now() - last > 30000) {
          sessionStorage.setItem(key, String(Date.now()));
          location.reload();
        } else {
          show("stale", "live: alerts may be missing, reload");
        }
      });
      // A network blip: EventSource reconnects by itself. A refusal (the API serves as
      // many streams as it takes: 429): it gives up for good, so try again in 30 s, from
      // where the page was read (alerts already shown are replaced, not doubled).
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) {
          show("refused", "live: not connected (the server is busy), retrying in 30 s");
          setTimeout(connect, 30000);
        } else {
          show("retrying", "live: reconnecting");
        }
      });
      source.addEventListener("alert", (e) => {
        const a = JSON.parse(e.data);
        if (!table) return;
        const old = table.querySelector('tr[data-alert-id="' + CSS.escape(a.alert_id) + '"]');
        const row = alertRow(a);
        if (old) {
          const s = old.querySelector(".status");
          if (s && s.dataset.status !== "resolved") { row.querySelector(".status").dataset.status = s.dataset.status; row.querySelector(".status").textContent = s.dataset.status; }
          old.replaceWith(row);
        } else {
          table.insertBefore(row, table.firstChild);
        }
        const empty = document.getElementById("no-alerts");
        if (empty) empty.remove();
      });
      source.addEventListener("lifecycle", (e) => {
        const l = JSON.parse(e.data);
        setStatus(l.alert_id, l.kind);
      });
    };
    connect();
  }

  async function act(alertId, action, btn) {
    btn.disabled = true;
    try {
      const r = await fetch("/alerts/" + encodeURIComponent(alertId) + "/" + action, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: "{}",
      });
      if (r.status === 401) { window.location.href = "/ui/login"; return; }
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        btn.title = (body.detail && body.detail.message) || ("failed: HTTP " + r.status);
        btn.classList.add("failed");
      }
    } finally {
      btn.disabled = false;
    }
  }

  document.addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-action]");
    if (!btn) return;
    const holder = btn.closest("[data-alert-id]");
    if (holder) act(holder.dataset.alertId, btn.dataset.action, btn);
  });

  function login() {
    const form = document.getElementById("login");
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await fetch("/ui/session", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: form.elements.token.value }),
      });
      if (r.ok) { window.location.href = "/ui"; return; }
      const err = document.getElementById("login-error");
      err.hidden = false;
      err.textContent = "That token is not valid.";
    });
  }

  // Backtests: the form posts the rule file to the API (the write scope, by the session
  // cookie) and opens the job's page, which reloads itself until the job is done.
  function backtests() {
    const form = document.getElementById("backtest");
    if (form) {
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const err = document.getElementById("backtest-error");
        err.hidden = true;
        const f = form.elements;
        const r = await fetch("/backtests", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            rules: f.rules.value, since: f.since.value + "T00:00:00Z",
            until: f.until.value + "T00:00:00Z", examples: Number(f.examples.value || 3),
          }),
        });
        if (r.status === 401) { window.location.href = "/ui/login"; return; }
        const body = await r.json().catch(() => ({}));
        if (r.ok) { window.location.href = "/ui/backtests/" + encodeURIComponent(body.job_id); return; }
        err.hidden = false;
        err.textContent = describeError(r.status, body);
      });
    }
    const job = document.querySelector("article.backtest-job");
    if (job && (job.dataset.status === "queued" || job.dataset.status === "running")) {
      setTimeout(() => window.location.reload(), 1500);
    }
  }

  function describeError(status, body) {
    const detail = body && body.detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
    }
    if (detail && detail.message) return detail.message;
    if (status === 403) return "Your token may read but not write: backtests need the write scope.";
    return "The backtest was not started (HTTP " + status + ").";
  }

  document.addEventListener("DOMContentLoaded", () => { follow(); login(); backtests(); });
})();
