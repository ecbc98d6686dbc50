// riskguard dashboard: live rows, filters, sorting, ping ages, the account chart and actions.
// Rows and blocks arrive already rendered from the server (one renderer); this script only
// swaps them in. One EventSource per tab; the server fans one store feed out to all tabs.
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  const staleMs = Number(body.dataset.staleMs || 60000);
  const live = document.getElementById("live");

  function ageText(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }

  // Ping ages move with the clock, not with the store: recomputed here every second.
  function agePings() {
    const now = Date.now();
    for (const cell of document.querySelectorAll("[data-ping]")) {
      const at = Number(cell.dataset.ping);
      if (!cell.dataset.ping || !Number.isFinite(at)) continue;
      cell.textContent = ageText(now - at);
      cell.classList.toggle("stale", now - at > staleMs);
    }
  }
  setInterval(agePings, 1000);

  function fromHtml(markup) {
    const template = document.createElement("template");
    template.innerHTML = markup.trim();
    return template.content.firstElementChild;
  }

  function connect(url, handlers) {
    const source = new EventSource(url);
    source.addEventListener("open", () => {
      live.textContent = "live";
      live.className = "live on";
    });
    source.addEventListener("error", () => {
      live.textContent = "reconnecting…";
      live.className = "live off";
    });
    for (const [name, handler] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
    }
    return source;
  }

  // ---- fleet page ----
  function fleetPage() {
    const table = document.getElementById("fleet");
    const tbody = table.tBodies[0];
    const hostFilter = document.getElementById("filter-host");
    const statusFilter = document.getElementById("filter-status");
    const count = document.getElementById("count");
    let sortCol = -1;
    let sortDir = 1;

    function value(row, col) {
      const raw = row.cells[col] ? row.cells[col].dataset.v : "";
      const number = Number(raw);
      return raw !== "" && Number.isFinite(number) ? number : raw;
    }
    function sortRows() {
      if (sortCol < 0) return;
      const rows = Array.from(tbody.rows);
      rows.sort((a, b) => {
        const x = value(a, sortCol), y = value(b, sortCol);
        if (typeof x === "number" && typeof y === "number") return (x - y) * sortDir;
        return String(x).localeCompare(String(y)) * sortDir;
      });
      for (const row of rows) tbody.appendChild(row);
    }
    function syncOptions(select, values) {
      const known = new Set(Array.from(select.options).map((o) => o.value));
      for (const v of values) {
        if (v && !known.has(v)) select.add(new Option(v, v));
      }
    }
    function filterRows() {
      const host = hostFilter.value, status = statusFilter.value;
      let shown = 0;
      for (const row of tbody.rows) {
        const visible = (!host || row.dataset.host === host) &&
          (!status || row.dataset.status === status);
        row.hidden = !visible;
        if (visible) shown++;
      }
      count.textContent = shown + " of " + tbody.rows.length + " accounts";
      syncOptions(hostFilter, Array.from(tbody.rows, (r) => r.dataset.host));
      syncOptions(statusFilter, Array.from(tbody.rows, (r) => r.dataset.status));
    }
    for (const th of table.tHead.rows[0].cells) {
      th.addEventListener("click", () => {
        const col = Number(th.dataset.col);
        sortDir = col === sortCol ? -sortDir : 1;
        sortCol = col;
        for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
        sortRows();
      });
    }
    hostFilter.addEventListener("change", filterRows);
    statusFilter.addEventListener("change", filterRows);
    filterRows();

    function upsert(update) {
      const row = fromHtml(update.html);
      const old = tbody.querySelector('tr[data-id="' + CSS.escape(update.id) + '"]');
      if (old) old.replaceWith(row);
      else tbody.appendChild(row);
      sortRows();
      filterRows();
    }
    connect("/api/stream", {
      snapshot: (data) => {
        tbody.replaceChildren(...data.rows.map((r) => fromHtml(r.html)));
        sortRows();
        filterRows();
      },
      row: upsert,
      remove: (data) => {
        const old = tbody.querySelector('tr[data-id="' + CSS.escape(data.id) + '"]');
        if (old) old.remove();
        filterRows();
      },
    });
  }

  // ---- account page ----
  function accountPage() {
    const id = body.dataset.id;
    const box = document.getElementById("chart");
    let plot = null;
    let data = null;
    let lines = null;
    let lastEventAt = null;
    // The day the chart shows (epoch ms of its reset; null: the last 24 hours).
    let dayStart = null;
    let loading = false;

    function lineValues(at, value) {
      return at.map(() => (value === null ? null : value));
    }
    function label(name, value) {
      return value === null ? name + " (none)" : name + " " + value.toFixed(2);
    }
    function utcText(ms) {
      return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
    }
    function draw(chart) {
      if (plot) plot.destroy();
      plot = null;
      lines = chart.lines;
      dayStart = chart.day ? chart.day.starts_at : null;
      document.getElementById("chart-range").textContent = dayStart === null
        ? "last 24 hours"
        : "since the reset at " + utcText(dayStart);
      const at = chart.samples.map((s) => s.at / 1000);
      data = [
        at,
        chart.samples.map((s) => s.equity),
        chart.samples.map((s) => s.balance),
        lineValues(at, lines.daily_loss_floor),
        lineValues(at, lines.profit_target),
        lineValues(at, lines.drawdown_floor),
      ];
      box.textContent = "";
      if (at.length === 0) {
        box.dataset.state = "empty";
        box.textContent = "No samples today yet.";
        return;
      }
      const width = Math.max(320, box.clientWidth || 900);
      plot = new uPlot(
        {
          width,
          height: 360,
          // The x axis starts at the day's reset, however late the first sample came.
          scales: {
            x: {
              time: true,
              range: (_u, min, max) =>
                dayStart === null ? [min, max] : [Math.min(min, dayStart / 1000), max],
            },
          },
          // Room for five-digit balances on the y axis.
          axes: [{}, { size: 80 }],
          series: [
            {},
            { label: "Equity", stroke: "#2563eb", width: 2 },
            { label: "Balance", stroke: "#64748b", width: 1 },
            {
              label: label("Daily loss floor", lines.daily_loss_floor),
              stroke: "#dc2626",
              dash: [6, 4],
            },
            { label: label("Profit target", lines.profit_target), stroke: "#16a34a", dash: [6, 4] },
            {
              label: label("Drawdown floor", lines.drawdown_floor),
              stroke: "#9333ea",
              dash: [2, 4],
            },
          ],
          legend: { live: false },
        },
        data,
        box,
      );
      box.dataset.state = "drawn";
    }
    function loadChart() {
      if (loading) return;
      loading = true;
      fetch("/api/accounts/" + encodeURIComponent(id) + "/chart")
        .then((r) => r.json())
        .then(draw)
        .catch((error) => {
          box.dataset.state = "error";
          box.textContent = "Cannot load the curve: " + error;
        })
        .finally(() => {
          loading = false;
        });
    }
    loadChart();

    function addPoint(update) {
      const row = update.row;
      if (!plot || !data || row.metrics_at === null || row.equity === null) return;
      const t = row.metrics_at / 1000;
      if (t <= data[0][data[0].length - 1]) return;
      const l = update.lines;
      data[0].push(t);
      data[1].push(row.equity);
      data[2].push(row.balance);
      data[3].push(l.daily_loss_floor);
      data[4].push(l.profit_target);
      data[5].push(l.drawdown_floor);
      plot.setData(data);
    }
    connect("/api/stream?id=" + encodeURIComponent(id), {
      row: (update) => {
        document.getElementById("summary").innerHTML = update.html;
        if (update.day_html) document.getElementById("day").innerHTML = update.day_html;
        if (update.trades_html) document.getElementById("trades").innerHTML = update.trades_html;
        const starts = update.day ? update.day.starts_at : null;
        // A new day (the reset passed) or a first sample: the chart is loaded again.
        if (data !== null && (starts !== dayStart || (plot === null && update.row.metrics_at))) {
          loadChart();
        } else addPoint(update);
        const eventAt = update.row.last_event ? update.row.last_event.at : null;
        if (eventAt !== lastEventAt) {
          lastEventAt = eventAt;
          fetch("/accounts/" + encodeURIComponent(id) + "/events").then((r) => r.text()).then(
            (markup) => {
              document.getElementById("events").innerHTML = markup;
            },
          );
        }
      },
      remove: () => {
        document.getElementById("summary").textContent = "This account was removed.";
      },
    });

    const form = document.getElementById("actions");
    if (form) {
      form.token.value = sessionStorage.getItem("riskguard-token") || "";
      form.addEventListener("click", (event) => {
        const action = event.target.dataset && event.target.dataset.action;
        if (!action) return;
        const reason = form.reason.value.trim();
        if (action === "unlock") {
          if (!reason) {
            form.querySelector("#action-result").textContent = "Give a reason to unlock.";
            return;
          }
          if (!confirm("Unlock this account? Trading is allowed again at once.")) return;
        } else if (!confirm(action[0].toUpperCase() + action.slice(1) + " this account?")) return;
        sessionStorage.setItem("riskguard-token", form.token.value);
        fetch("/api/accounts/" + encodeURIComponent(id) + "/" + action, {
          method: "POST",
          headers: { "content-type": "application/json", "x-riskguard-token": form.token.value },
          body: JSON.stringify({ reason: reason || null, by: form.by.value.trim() || null }),
        }).then((r) => r.json()).then((result) => {
          form.querySelector("#action-result").textContent = result.message || result.error;
        });
      });
    }
  }

  if (page === "fleet") fleetPage();
  if (page === "account") accountPage();
  if (page === "hosts") {
    live.textContent = "";
  }
  agePings();
})();
