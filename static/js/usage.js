// The Usage page's chart: cost and amount due per UTC day (left axis),
// requests and GB-seconds (right axes), drawn with the vendored uPlot from
// the JSON the page carries (#usage-data, metrics.usage.report.Report.chart).
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("usage-chart");
    var source = document.getElementById("usage-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var d = JSON.parse(source.textContent);
    var currency = d.currency;
    var t = d.t;
    var day = 86400;
    var money = function (u, values) {
      return values.map(function (v) { return v == null ? "" : v.toPrecision(3).replace(/\.?0+$/, "") + " " + currency; });
    };
    // An axis's size (px) from its longest label: text width, plus the
    // tick (10) and gap (5) uPlot draws beside it and some air.
    var labelSize = function (u, values, axisIdx) {
      if (!values || !values.length) return 50;
      var ctx = u.ctx;
      ctx.save();
      ctx.font = u.axes[axisIdx].font[0];
      var widest = values.reduce(function (w, v) { return Math.max(w, ctx.measureText(String(v)).width); }, 0);
      ctx.restore();
      return Math.ceil(widest / uPlot.pxRatio) + 10 + 5 + 8;
    };
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined;
    var opts = {
      width: Math.max(320, holder.clientWidth),
      height: 300,
      // Days are UTC days, whatever the browser's time zone.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: {
        x: { time: true, range: function () { return [t[0] - day / 2, t[t.length - 1] + day / 2]; } },
        money: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1e-6]; } },
        requests: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } },
        gbs: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } },
      },
      axes: [
        { label: "UTC day", labelSize: 20 },
        // Wide enough for the longest label ("0.00015 USD" must not lose
        // its first characters): measured in the axis's own font.
        { scale: "money", values: money, size: labelSize },
        { scale: "requests", side: 1, grid: { show: false }, label: "Requests", size: 70, labelSize: 20 },
        { scale: "gbs", side: 1, grid: { show: false }, label: "GB-seconds", size: 70, labelSize: 20 },
      ],
      series: [
        { label: "Day (UTC)", value: "{YYYY}-{MM}-{DD} UTC" },
        { label: "Cost (" + currency + ")", scale: "money", stroke: "#0969da", fill: "rgba(9,105,218,0.25)",
          paths: bars, points: { show: false }, value: function (u, v) { return v == null ? "" : v.toPrecision(4) + " " + currency; } },
        { label: "Due (" + currency + ")", scale: "money", stroke: "#cf222e", width: 2, dash: [6, 4],
          value: function (u, v) { return v == null ? "" : v.toPrecision(4) + " " + currency; } },
        { label: "Requests", scale: "requests", stroke: "#1a7f37", width: 2 },
        { label: "GB-seconds", scale: "gbs", stroke: "#9a6700", width: 2,
          value: function (u, v) { return v == null ? "" : v.toPrecision(4); } },
      ],
    };
    var chart = new uPlot(opts, [t, d.cost, d.due, d.requests, d.gb_seconds], holder);
    window.usageChart = chart;  // read by the browser test
    holder.dataset.ready = "true";
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(320, holder.clientWidth), height: 300 });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
