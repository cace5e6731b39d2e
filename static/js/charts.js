/* Stratus charts: draws the metrics of a [data-charts] container with uPlot
 * and keeps them live.
 *
 * The container (templates/monitor/_charts.html) holds the series as JSON
 * (json_script "metrics-data": monitor.views.charts_data) and the URL that
 * answers the same JSON for another moment (data-url, ?range=). Its
 * websocket (htmx ws extension, ws-connect) carries the worker's ticks:
 * <template id="metrics-tick" data-tick='{"function_id", "t" (minute,
 * unix s), "status", "duration_ms", "cold", "gb_seconds"}'>. A tick is
 * applied to its step at once (counts, errors, cold starts, GB-seconds, the
 * duration when the step held no call yet), then the JSON is read again
 * (debounced) for the exact percentiles and concurrency.
 *
 * window.stratusCharts.instances lists the live containers; each has
 * .plots (uPlot by chart name), .state (the last JSON), .total(key), and
 * counters for a look from the console: .ticks (applied), .received (the
 * last 100 ticks), .messages (websocket messages), .opens (connections).
 */
(function () {
  "use strict";

  var HEIGHT = 170;
  var REFETCH_DELAY_MS = 250;
  var TELL_EVERY_MS = 3000;
  var COLORS = {
    accent: "#0b5cad", bad: "#cf222e", warn: "#bc4c00", oom: "#8250df",
    ok: "#1a7f37", muted: "#656d76", p50: "#0b5cad", p95: "#bc4c00", p99: "#cf222e"
  };

  // Which series each chart draws: [key in the JSON, label, colour].
  var CHARTS = {
    invocations: { series: [["invocations", "Invocations", COLORS.accent]], bars: true, integer: true },
    errors: {
      series: [
        ["errors_failed", "Failed", COLORS.bad],
        ["errors_timed_out", "Timed out", COLORS.warn],
        ["errors_out_of_memory", "Out of memory", COLORS.oom]
      ],
      bars: true,
      integer: true
    },
    throttles: { series: [["throttles", "Throttles", COLORS.warn]], bars: true, integer: true },
    cold_starts: { series: [["cold_starts", "Cold starts", COLORS.ok]], bars: true, integer: true },
    duration: {
      series: [["p50", "p50", COLORS.p50], ["p95", "p95", COLORS.p95], ["p99", "p99", COLORS.p99]],
      unit: "ms"
    },
    concurrency: { series: [["concurrency", "Concurrent", COLORS.accent]], integer: true },
    gb_seconds: { series: [["gb_seconds", "GB-s", COLORS.ok]], bars: true, decimals: 4 }
  };

  var ERROR_KEYS = { failed: "errors_failed", timed_out: "errors_timed_out", out_of_memory: "errors_out_of_memory" };
  var COUNT_KEYS = [
    "invocations", "errors", "errors_failed", "errors_timed_out", "errors_out_of_memory",
    "throttles", "cold_starts", "concurrency", "gb_seconds"
  ];
  var PERCENTILES = ["p50", "p95", "p99"];

  function fmtNumber(v, decimals) {
    if (v === null || v === undefined) return "–";
    if (decimals !== undefined) return Number(v).toFixed(decimals);
    return Math.round(v) === v ? String(v) : Number(v).toFixed(1);
  }

  function fmtAxis(v) {
    if (v === 0) return "0";
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(v % 1000 === 0 ? 0 : 1) + "k";
    return Math.abs(v) < 1 ? String(Number(v.toPrecision(2))) : String(Number(v.toFixed(1)));
  }

  function fmtMs(v) {
    if (v === null || v === undefined) return "–";
    return (v >= 100 ? Math.round(v) : Number(v).toFixed(1)) + " ms";
  }

  function Charts(container) {
    this.container = container;
    this.url = container.getAttribute("data-url");
    this.plots = {};
    this.state = JSON.parse(container.querySelector("#metrics-data").textContent);
    this.fetching = false;
    this.dirty = false;
    this.timer = null;
    this.observer = null;
    this.ticks = 0;
    this.toldAt = 0;
    this.received = []; // the last 100 ticks applied, for a look from the console
    this.draw();
    this.renderTotals();
    this.listen();
  }

  Charts.prototype.data = function (name) {
    var s = this.state.series;
    var rows = [s.t];
    CHARTS[name].series.forEach(function (spec) { rows.push(s[spec[0]]); });
    return rows;
  };

  Charts.prototype.total = function (key) {
    if (key === "peak_concurrency") return this.state.peak_concurrency;
    return this.state.series.totals[key];
  };

  // Tick labels in the console's UTC clock: "18:05"; the date ("11-30")
  // under the first tick and at each UTC midnight; dates alone for
  // ticks a day or more apart.
  function utcTicks(u, splits, axisIdx, space, incr) {
    return splits.map(function (ts, i) {
      var iso = new Date(ts * 1e3).toISOString();
      var day = iso.slice(5, 10), clock = iso.slice(11, 16);
      if (incr >= 86400) return day;
      return i === 0 || clock === "00:00" ? clock + "\n" + day : clock;
    });
  }

  Charts.prototype.draw = function () {
    var self = this;
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 30] }) : null;
    this.container.querySelectorAll("[data-chart]").forEach(function (figure) {
      var name = figure.getAttribute("data-chart");
      var spec = CHARTS[name];
      var target = figure.querySelector(".plot");
      var series = [{ label: "Time (UTC)", value: "{YYYY}-{MM}-{DD} {HH}:{mm} UTC" }];
      spec.series.forEach(function (s) {
        series.push({
          label: s[1], stroke: s[2], width: 1.5,
          fill: spec.bars ? s[2] + "55" : undefined,
          paths: spec.bars && bars ? bars : undefined,
          // A duration is a point (one lone step with calls must show).
          points: spec.unit === "ms" ? { show: true, size: 5 } : { show: false },
          spanGaps: false,
          value: function (u, v) { return spec.unit === "ms" ? fmtMs(v) : fmtNumber(v, spec.decimals); }
        });
      });
      var opts = {
        width: Math.max(target.clientWidth, 200),
        height: HEIGHT,
        series: series,
        cursor: { drag: { x: false, y: false } },
        // Every time in the console is UTC, whatever the browser's zone;
        // the axis and the legend say so.
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
        scales: {
          // Half a step of room at both ends, so the first and the newest
          // bar (centred on its step) are drawn whole.
          x: { time: true, range: function (u, min, max) {
            var half = (self.state && self.state.step_s ? self.state.step_s : 60) / 2;
            return [min - half, max + half];
          } },
          y: { range: function (u, min, max) { return max > 0 ? [0, max * 1.1] : [0, 1]; } }
        },
        axes: [
          { stroke: COLORS.muted, grid: { stroke: "#eaeef2" }, ticks: { stroke: "#eaeef2" },
            label: "UTC", labelSize: 16, labelFont: "11px system-ui, sans-serif", values: utcTicks },
          {
            stroke: COLORS.muted, grid: { stroke: "#eaeef2" }, ticks: { stroke: "#eaeef2" },
            size: function (u, values) {
              var longest = (values || []).reduce(function (n, v) { return Math.max(n, String(v).length); }, 1);
              return Math.max(40, longest * 7 + 18);
            },
            // Counts have whole ticks (no "0.5 invocations").
            incrs: spec.integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e5, 1e6] : undefined,
            values: function (u, vals) { return vals.map(function (v) { return fmtAxis(v) + (spec.unit ? " " + spec.unit : ""); }); }
          }
        ],
        legend: { show: true, live: true }
      };
      self.plots[name] = new uPlot(opts, self.data(name), target);
    });
    if (window.ResizeObserver) {
      this.observer = new ResizeObserver(function () { self.resize(); });
      this.container.querySelectorAll(".plot").forEach(function (el) { self.observer.observe(el); });
    } else {
      window.addEventListener("resize", function () { self.resize(); });
    }
  };

  Charts.prototype.resize = function () {
    var self = this;
    Object.keys(this.plots).forEach(function (name) {
      var plot = self.plots[name];
      var width = Math.max(plot.root.parentNode.clientWidth, 200);
      if (Math.abs(plot.width - width) > 1) plot.setSize({ width: width, height: HEIGHT });
    });
  };

  Charts.prototype.redraw = function () {
    var self = this;
    Object.keys(this.plots).forEach(function (name) { self.plots[name].setData(self.data(name)); });
    this.renderTotals();
  };

  // A burst of ticks draws once per frame.
  Charts.prototype.redrawSoon = function () {
    var self = this;
    if (this.frame) return;
    this.frame = requestAnimationFrame(function () { self.frame = null; self.redraw(); });
  };

  // Tell the rest of the page (the dashboard's table, which costs a query
  // per function) at most every TELL_EVERY_MS, the last news included.
  Charts.prototype.tellRefreshed = function () {
    var self = this, wait = this.toldAt + TELL_EVERY_MS - Date.now();
    if (this.tellTimer) return;
    if (wait > 0) {
      this.tellTimer = setTimeout(function () { self.tellTimer = null; self.tellRefreshed(); }, wait);
      return;
    }
    this.toldAt = Date.now();
    this.container.dispatchEvent(new CustomEvent("stratus:refreshed", { bubbles: true }));
  };

  Charts.prototype.renderTotals = function () {
    var self = this;
    this.container.querySelectorAll("[data-total]").forEach(function (el) {
      var key = el.getAttribute("data-total");
      var v = self.total(key);
      if (el.getAttribute("data-unit") === "ms") el.textContent = fmtMs(v);
      else el.textContent = fmtNumber(v, key === "gb_seconds" ? 4 : undefined);
    });
  };

  // Moves the window forward until the step holding `t` is its last one.
  Charts.prototype.advanceTo = function (t) {
    var st = this.state, s = st.series, step = st.step_s;
    var moved = 0;
    while (t >= st.until && moved < s.t.length) {
      s.t.push(st.until);
      s.t.shift();
      COUNT_KEYS.concat(PERCENTILES).forEach(function (key) {
        if (!s[key]) return;
        var dropped = s[key].shift();
        s[key].push(PERCENTILES.indexOf(key) >= 0 ? null : 0);
        if (COUNT_KEYS.indexOf(key) >= 0 && key !== "concurrency" && s.totals[key] !== undefined) {
          s.totals[key] -= dropped || 0;
        }
      });
      st.since += step;
      st.until += step;
      moved += 1;
    }
  };

  // One recorded call, applied to the step that holds it.
  Charts.prototype.applyTick = function (tick) {
    var st = this.state, s = st.series;
    if (st.function_id && tick.function_id !== st.function_id) return;
    if (tick.t < st.since) return;
    this.advanceTo(tick.t);
    var i = Math.floor((tick.t - st.since) / st.step_s);
    if (i < 0 || i >= s.t.length) return;
    function add(key, n) {
      if (!s[key]) return;
      s[key][i] = (s[key][i] || 0) + n;
      if (s.totals[key] !== undefined && s.totals[key] !== null) s.totals[key] += n;
    }
    if (tick.status === "throttled") {
      add("throttles", 1);
    } else {
      var first = !s.invocations[i];
      add("invocations", 1);
      if (ERROR_KEYS[tick.status]) { add(ERROR_KEYS[tick.status], 1); add("errors", 1); }
      if (tick.cold) add("cold_starts", 1);
      if (tick.gb_seconds) add("gb_seconds", tick.gb_seconds);
      if (first && typeof tick.duration_ms === "number") {
        // One call: every percentile of the step is its duration.
        PERCENTILES.forEach(function (key) { if (s[key]) s[key][i] = tick.duration_ms; });
      }
    }
    this.ticks += 1;
    this.received.push(tick);
    if (this.received.length > 100) this.received.shift();
    this.redrawSoon();
    this.refetchSoon();
  };

  Charts.prototype.refetchSoon = function () {
    var self = this;
    if (this.fetching) { this.dirty = true; return; }
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.refetch(); }, REFETCH_DELAY_MS);
  };

  Charts.prototype.refetch = function () {
    var self = this;
    if (!this.container.isConnected) return;
    var url = new URL(this.url, window.location.href);
    url.searchParams.set("range", this.state.range);
    this.fetching = true;
    this.dirty = false;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (json) {
        json.function_id = self.state.function_id;
        self.state = json;
        self.redraw();
        // What else shows these numbers (the dashboard's table) reads them again.
        self.tellRefreshed();
      })
      .catch(function () { /* the next tick or the clock tries again */ })
      .then(function () {
        self.fetching = false;
        if (self.dirty) self.refetchSoon();
      });
  };

  Charts.prototype.setLive = function (text) {
    var el = this.container.querySelector("[data-live-state]");
    if (el) el.textContent = text;
  };

  Charts.prototype.listen = function () {
    var self = this, c = this.container;
    this.state.function_id = c.getAttribute("data-function-id") || null;
    // Before htmx swaps anything: a swap that fails cannot lose a tick.
    c.addEventListener("htmx:wsBeforeMessage", function (e) {
      self.messages = (self.messages || 0) + 1;
      readTicks(e.detail.message).forEach(function (tick) { self.applyTick(tick); });
    });
    c.addEventListener("htmx:wsOpen", function () {
      self.opens = (self.opens || 0) + 1;
      self.setLive("live");
      // Ticks sent while the socket was down are in the series.
      if (self.ticks || self.opened) self.refetchSoon();
      self.opened = true;
    });
    c.addEventListener("htmx:wsClose", function () { self.setLive("reconnecting…"); });
    // The window moves with the clock even when nothing runs.
    this.clock = setInterval(function () {
      if (!c.isConnected) return self.destroy();
      self.refetch();
    }, Math.min(this.state.step_s, 60) * 1000);
  };

  Charts.prototype.destroy = function () {
    var self = this;
    clearInterval(this.clock);
    clearTimeout(this.timer);
    clearTimeout(this.tellTimer);
    if (this.frame) cancelAnimationFrame(this.frame);
    if (this.observer) this.observer.disconnect();
    Object.keys(this.plots).forEach(function (name) { self.plots[name].destroy(); });
    this.plots = {};
    var list = window.stratusCharts.instances;
    var at = list.indexOf(this);
    if (at >= 0) list.splice(at, 1);
  };

  function readTicks(html) {
    if (typeof html !== "string" || html.indexOf("data-tick") < 0) return [];
    var doc = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html");
    var ticks = [];
    doc.querySelectorAll("[data-tick]").forEach(function (el) {
      try { ticks.push(JSON.parse(el.getAttribute("data-tick"))); } catch (err) { /* not a tick */ }
    });
    return ticks;
  }

  function init(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = [];
    if (scope.matches && scope.matches("[data-charts]")) found.push(scope);
    scope.querySelectorAll("[data-charts]").forEach(function (el) { found.push(el); });
    found.forEach(function (el) {
      if (el._stratusCharts) return;
      el._stratusCharts = new Charts(el);
      window.stratusCharts.instances.push(el._stratusCharts);
    });
    // Containers a swap took away stop their clocks.
    window.stratusCharts.instances.slice().forEach(function (c) {
      if (!c.container.isConnected) c.destroy();
    });
  }

  window.stratusCharts = { instances: [], init: init, readTicks: readTicks };

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  // Tabs swapped in by htmx (the function's Monitor tab).
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();
