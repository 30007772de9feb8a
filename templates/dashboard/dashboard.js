/* reportgen dashboard: filters, tiles, charts and drill-down, all computed from the JSON block
   #dashboard-data (see README.md for its shape). Rules kept throughout:
   - text from the data is set with textContent, never as markup; text given to Plotly (which reads
     a little HTML in labels) is entity-escaped first;
   - numbers are formatted exactly as reportgen/report/formatting.py formats them in Python, so the page
     shows what the PDF shows;
   - no network access of any kind (the page's Content-Security-Policy forbids it as well).
   Inlined into a script element, so this file must not contain a closing script tag. */
(function () {
  "use strict";

  /* ---------- number formatting: a mirror of reportgen/report/formatting.py ---------- */

  function isMissing(value) {
    return value === null || value === undefined || Number.isNaN(value);
  }

  // Python's f"{x:.{digits}f}" (optionally with "," grouping): correctly rounded, exact ties to
  // even. toFixed already rounds the exact binary value but breaks ties away from zero; a tie has
  // at most digits + 1 fractional bits, so 30 more decimals show it exactly.
  function fixed(x, digits, grouped) {
    const negative = x < 0 || Object.is(x, -0);
    const a = Math.abs(x);
    if (!Number.isFinite(a)) return (negative ? "-" : "") + (Number.isNaN(a) ? "nan" : "inf");
    let text = a.toFixed(digits);
    if (a < 1e21) {
      const exact = a.toFixed(Math.min(100, digits + 30));
      const point = exact.indexOf(".");
      if (/^50*$/.test(exact.slice(point + 1 + digits))) {
        const kept = exact.slice(0, digits ? point + 1 + digits : point);
        if ((kept.charCodeAt(kept.length - 1) - 48) % 2 === 0) text = kept;
      }
    }
    const parts = text.split(".");
    const whole = grouped ? parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",") : parts[0];
    return (negative ? "-" : "") + whole + (parts.length > 1 ? "." + parts[1] : "");
  }

  // Another locale or currency than en_US/USD: data.style (formatting.style_symbols) holds its
  // separators, signs, affixes and compact words; the digits are rounded as above all the same.
  let STYLE = null;

  function local(text) {
    if (!STYLE) return text;
    return text.replace(/[,.-]/g, function (c) {
      return c === "," ? STYLE.group : c === "." ? STYLE.decimal : STYLE.minus;
    });
  }

  function localMoney(value, compact) {
    const a = Math.abs(value);
    const m = STYLE.money;
    const steps = [[1e9, "1000000000"], [1e6, "1000000"], [1e3, "1000"]];
    let number = local(fixed(a, 0, true));
    for (let i = 0; compact && i < steps.length; i++) {
      if (a >= steps[i][0]) {
        const word = STYLE.compact[steps[i][1]];
        if (word !== null && word !== undefined) number = local(fixed(a / steps[i][0], 1, true)) + word;
        break;
      }
    }
    return value < 0 ? m[2] + number + m[3] : m[0] + number + m[1];
  }

  function formatCount(value) {
    if (isMissing(value)) return "n/a";
    const text = fixed(value, 0, true);
    return local(/^-[0,]*$/.test(text) ? text.slice(1) : text); // Python ints have no negative zero
  }

  function formatMoney(value, compact) {
    if (isMissing(value)) return "n/a";
    if (STYLE) return localMoney(value, compact);
    const sign = value < 0 ? "-" : "";
    const a = Math.abs(value);
    if (compact) {
      const steps = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
      for (let i = 0; i < steps.length; i++) {
        if (a >= steps[i][0]) return sign + "$" + fixed(a / steps[i][0], 1, true) + steps[i][1];
      }
    }
    return sign + "$" + fixed(a, 0, true);
  }

  function formatShare(value, digits) {
    if (isMissing(value)) return "n/a";
    const text = fixed(value * 100, digits === undefined ? 1 : digits, false);
    if (!STYLE) return text + "%";
    const negative = text.charAt(0) === "-";
    return (negative ? STYLE.minus : "") + STYLE.percent[0] + local(negative ? text.slice(1) : text) + STYLE.percent[1];
  }

  function formatNumber(value, digits) {
    if (isMissing(value)) return "n/a";
    return local(fixed(value, digits === undefined ? 2 : digits, true));
  }

  function formatValue(value, unit) {
    if (unit === "$") return formatMoney(value, false);
    if (unit === "share") return formatShare(value);
    if (unit === "count") return formatCount(value);
    if (unit === "transactions" || unit === "months") return formatNumber(value, 1);
    return formatNumber(value, 2);
  }

  const FORMATS = {
    count: formatCount,
    money: function (v) { return formatMoney(v, false); },
    money_compact: function (v) { return formatMoney(v, true); },
    share: function (v) { return formatShare(v); },
    number: function (v) { return formatNumber(v); },
  };

  // Plotly renders a subset of HTML (and entities) in labels and hover text: escape data text.
  function plotlyText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/%/g, "&#37;").replace(/\$/g, "&#36;");
  }

  /* ---------- data ---------- */

  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  STYLE = data.style || null;
  const cube = data.cube;
  const sample = data.sample;
  const segments = data.segments;
  const segmentById = new Map(segments.map(function (s) { return [s.id, s]; }));
  const DIMS = cube.dimensions.length;
  const MEASURE = {};
  cube.measures.forEach(function (m, i) { MEASURE[m] = i; });
  const history = data.history && data.history.months && data.history.months.length ? data.history : null;
  const monthCubes = (history && history.cubes) || {};

  function band(value, edges) {
    let i = 0;
    while (i < edges.length && value >= edges[i]) i++;
    return i;
  }

  // The sample's band of every customer, computed once (the cube's band rules).
  const sampleSize = sample.ids.length;
  const sampleTenure = sample.values.TENURE;
  const sampleLimit = sample.values.CREDIT_LIMIT.map(function (v) { return band(v, cube.limit_edges); });
  const sampleUtil = sample.values.UTILISATION.map(function (v) { return band(v, cube.utilisation_edges); });

  /* ---------- state ---------- */

  const state = {
    personas: new Set(segments.map(function (s) { return s.id; })),
    tenure: null,
    limit: null,
    util: null,
    month: data.month,
    focus: null,
    page: 0,
    sortKey: "BALANCE",
    sortDescending: true,
    distFeature: data.distributions[0][0],
    trendKpi: data.trend_measures[0][0],
  };

  const form = document.getElementById("filters");
  const personaBoxes = Array.prototype.slice.call(form.querySelectorAll('input[name="persona"]'));

  function readFilters() {
    state.personas = new Set(personaBoxes.filter(function (b) { return b.checked; }).map(function (b) { return Number(b.value); }));
    const value = function (id) {
      const el = document.getElementById(id);
      return el && el.value !== "all" ? Number(el.value) : null;
    };
    state.tenure = value("f-tenure");
    state.limit = value("f-limit");
    state.util = value("f-util");
    const month = document.getElementById("f-month");
    state.month = month ? month.value : data.month;
  }

  /* ---------- exact figures from the cube ---------- */

  // The cube of `month`: the model's own, or an earlier month's when the history carries it.
  function cubeRows(month) {
    if (month !== data.month) return monthCubes[month] || [];
    return cube.rows;
  }

  function passesBands(tenure, limit, util) {
    return (state.tenure === null || tenure === state.tenure)
      && (state.limit === null || limit === state.limit)
      && (state.util === null || util === state.util);
  }

  function emptySums() { return new Float64Array(cube.measures.length); }

  // Sums per segment id over the cube rows that pass the tenure and band filters.
  function sumsBySegment(rows) {
    const sums = new Map(segments.map(function (s) { return [s.id, emptySums()]; }));
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      if (!passesBands(row[1], row[2], row[3])) continue;
      const acc = sums.get(row[0]);
      if (!acc) continue;
      for (let j = 0; j < acc.length; j++) acc[j] += row[DIMS + j];
    }
    return sums;
  }

  function addUp(sums, ids) {
    const total = emptySums();
    ids.forEach(function (id) {
      const acc = sums.get(id);
      if (acc) for (let j = 0; j < total.length; j++) total[j] += acc[j];
    });
    return total;
  }

  // A KPI of model.kpis from sums, as reportgen.report.build._kpis defines it: a ratio (an average,
  // a share, utilisation) of no customers has no value (null, shown "–"), not 0.
  function kpiValue(key, sums) {
    const formula = data.kpi_formulas[key];
    const numerator = sums[MEASURE[formula[0]]];
    if (formula[1] === null) return numerator;
    if (!sums[MEASURE.customers]) return null;
    const denominator = sums[MEASURE[formula[1]]];
    return denominator ? numerator / denominator : 0;
  }

  function kpiDisplay(key, sums) {
    const value = kpiValue(key, sums);
    return value === null ? "\u2013" : FORMATS[data.kpi_formulas[key][2]](value);
  }

  function selectedIds() {
    return segments.map(function (s) { return s.id; }).filter(function (id) { return state.personas.has(id); });
  }

  /* ---------- the sample ---------- */

  // Sample rows passing the tenure and band filters, in segments of `ids` (a Set).
  function sampleRows(ids) {
    const rows = [];
    for (let i = 0; i < sampleSize; i++) {
      if (ids.has(sample.segment[i]) && passesBands(sampleTenure[i], sampleLimit[i], sampleUtil[i])) rows.push(i);
    }
    return rows;
  }

  function quantile(sorted, q) {
    if (!sorted.length) return NaN;
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  function sortedValues(rows, column) {
    const values = sample.values[column];
    const out = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = values[rows[i]];
    return out.sort();
  }

  /* ---------- charts ---------- */

  // plotly.js is loaded after the page is usable (see loadCharts); until then charts wait.
  let plotly = null;
  const PLOT_CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };
  // "Report Sans" is the bundled font the page embeds (reportgen.render.fonts).
  const FONT = { family: '"Report Sans", "Liberation Sans", Arial, sans-serif', size: 12, color: "#1d2733" };

  function baseLayout(extra) {
    const layout = {
      font: FONT,
      margin: { l: 64, r: 12, t: 10, b: 44 },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      showlegend: false,
      hoverlabel: { font: { family: FONT.family } },
      xaxis: { automargin: true, fixedrange: true, linecolor: "#d5dbe3" },
      yaxis: { automargin: true, fixedrange: true, gridcolor: "#e3e8ee", zerolinecolor: "#c8d0da" },
    };
    if (STYLE) layout.separators = STYLE.decimal + STYLE.group; // Plotly's own number formats
    return Object.assign(layout, extra || {});
  }

  function axis(which, extra) {
    return Object.assign(baseLayout()[which], extra);
  }

  // Round tick values from 0 to the first one at or above `max` (about `count` steps), labelled
  // by `format`; the axis range ends at the last tick so the top of the data is always labelled.
  function ticks(max, format, count) {
    if (!(max > 0)) return { tickvals: [0], ticktext: [format(0)], range: [0, 1] };
    const raw = max / (count || 4);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(function (m) { return m * power; }).find(function (v) { return v >= raw; });
    const vals = [0];
    while (vals[vals.length - 1] < max * (1 - 1e-9)) vals.push(vals.length * step);
    return { tickvals: vals, ticktext: vals.map(format), range: [0, vals[vals.length - 1] * 1.02] };
  }

  function axisFor(unit, max, count) {
    if (unit === "share") return { tickformat: ".0%" };
    const format = unit === "$" ? function (v) { return formatMoney(v, true); } : formatCount;
    const t = ticks(max, format, count);
    return { tickmode: "array", tickvals: t.tickvals, ticktext: t.ticktext, range: t.range };
  }

  // Charts whose bars, boxes and points open their segment when clicked.
  const CLICKABLE = new Set(["chart-money", "chart-util", "chart-limit", "chart-dist", "chart-pca"]);

  function draw(id, traces, layout) {
    const el = document.getElementById(id);
    if (!plotly || !el) return;
    plotly.react(el, traces, layout, PLOT_CONFIG);
    if (CLICKABLE.has(id) && !el.dataset.clicks) {
      el.dataset.clicks = "on";
      el.on("plotly_click", function (event) {
        const point = event && event.points && event.points[0];
        const sid = point && point.data && point.data.meta;
        if (typeof sid === "number") openSegment(sid, true);
      });
    }
  }

  // "#rgb" or "#rrggbb" (checked when the page was built) with an opacity, as rgba().
  function translucent(color, opacity) {
    let hex = color.slice(1);
    if (hex.length === 3) hex = hex.split("").map(function (c) { return c + c; }).join("");
    const n = parseInt(hex, 16);
    return "rgba(" + (n >> 16 & 255) + "," + (n >> 8 & 255) + "," + (n & 255) + "," + opacity + ")";
  }

  function drawMoney() {
    const ids = selectedIds();
    const sums = sumsBySegment(cubeRows(state.month));
    const measures = [["BALANCE", "Balance"], ["PURCHASES", "Purchases"], ["PAYMENTS", "Payments"]];
    let max = 0;
    const traces = ids.map(function (id) {
      const s = segmentById.get(id);
      const acc = sums.get(id);
      const y = measures.map(function (m) { return acc[MEASURE[m[0]]]; });
      y.forEach(function (v) { max = Math.max(max, v); });
      return {
        type: "bar", name: plotlyText(s.name), x: measures.map(function (m) { return m[1]; }), y: y,
        marker: { color: s.color }, customdata: y.map(function (v) { return formatMoney(v, true); }),
        hovertemplate: "<b>" + plotlyText(s.name) + "</b><br>%{x}: %{customdata}<extra></extra>",
        meta: id,
      };
    });
    draw("chart-money", traces, baseLayout({ barmode: "group", bargap: 0.25, yaxis: axis("yaxis", axisFor("$", max)) }));
  }

  // Customers per band of `dimension` (cube column), stacked by segment.
  function drawBands(id, dimension, labels) {
    const ids = selectedIds();
    const rows = cubeRows(state.month);
    const counts = new Map(ids.map(function (sid) { return [sid, new Float64Array(labels.length)]; }));
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      if (!passesBands(row[1], row[2], row[3])) continue;
      const acc = counts.get(row[0]);
      if (acc) acc[row[dimension]] += row[DIMS + MEASURE.customers];
    }
    const totals = new Float64Array(labels.length);
    counts.forEach(function (acc) { acc.forEach(function (v, i) { totals[i] += v; }); });
    const traces = ids.map(function (sid) {
      const s = segmentById.get(sid);
      const y = Array.from(counts.get(sid));
      return {
        type: "bar", name: plotlyText(s.name), x: labels.map(plotlyText), y: y, marker: { color: s.color },
        customdata: y.map(formatCount),
        hovertemplate: "<b>" + plotlyText(s.name) + "</b><br>%{x}: %{customdata} customers<extra></extra>",
        meta: sid,
      };
    });
    const max = Math.max.apply(null, Array.from(totals).concat([0]));
    draw(id, traces, baseLayout({ barmode: "stack", bargap: 0.3, yaxis: axis("yaxis", axisFor("count", max)) }));
  }

  function unitOf(column) {
    const found = data.distributions.find(function (d) { return d[0] === column; });
    return found ? found[2] : "$";
  }

  // Horizontal box plots per segment from the sample (Tukey whiskers, no outlier points).
  function drawBoxes() {
    const column = state.distFeature;
    const unit = unitOf(column);
    const format = unit === "share" ? ":.1%" : ":$,.0f";
    let max = 0;
    const traces = [];
    selectedIds().forEach(function (sid) {
      const s = segmentById.get(sid);
      const values = sortedValues(sampleRows(new Set([sid])), column);
      if (!values.length) return;
      const q1 = quantile(values, 0.25);
      const q3 = quantile(values, 0.75);
      const reach = 1.5 * (q3 - q1);
      let lower = q1;
      let upper = q3;
      for (let i = 0; i < values.length; i++) {
        if (values[i] >= q1 - reach) { lower = values[i]; break; }
      }
      for (let i = values.length - 1; i >= 0; i--) {
        if (values[i] <= q3 + reach) { upper = values[i]; break; }
      }
      max = Math.max(max, upper);
      const name = plotlyText(s.name);
      const median = quantile(values, 0.5);
      const show = function (v) { return plotlyText(unit === "share" ? formatShare(v) : formatMoney(v, false)); };
      traces.push({
        type: "box", orientation: "h", name: name, y: [name], q1: [q1], median: [median], q3: [q3],
        lowerfence: [lower], upperfence: [upper], boxpoints: false,
        marker: { color: s.color }, line: { color: s.color }, fillcolor: translucent(s.color, 0.35),
        hovertemplate: "<b>" + name + "</b> (" + formatCount(values.length) + " sampled)<br>median " + (STYLE
          ? show(median) + "<br>middle half " + show(q1) + " to " + show(q3)
          : "%{median" + format + "}<br>middle half %{q1" + format + "} to %{q3" + format + "}") + "<extra></extra>",
        meta: sid,
      });
    });
    draw("chart-dist", traces, baseLayout({
      margin: { l: 12, r: 16, t: 10, b: 36 },
      xaxis: axis("yaxis", axisFor(unit, max)),
      yaxis: axis("xaxis", { autorange: "reversed", ticksuffix: " " }),
    }));
  }

  function drawMap() {
    const scatter = data.scatter;
    const traces = selectedIds().map(function (sid) {
      const s = segmentById.get(sid);
      const x = [];
      const y = [];
      for (let i = 0; i < scatter.segment.length; i++) {
        if (scatter.segment[i] === sid) { x.push(scatter.x[i]); y.push(scatter.y[i]); }
      }
      const medians = "Segment medians: balance " + formatMoney(s.medians.BALANCE, false) +
        ", purchases " + formatMoney(s.medians.PURCHASES, false) + ", payments " + formatMoney(s.medians.PAYMENTS, false);
      return {
        type: "scatter", mode: "markers", name: plotlyText(s.name), x: x, y: y,
        marker: { color: s.color, size: 6, opacity: 0.75, line: { width: 0 } },
        hovertemplate: "<b>" + plotlyText(s.name) + "</b><br>PC1 %{x:.2f}, PC2 %{y:.2f}<br>" + plotlyText(medians) + "<extra></extra>",
        meta: sid,
      };
    });
    const explained = scatter.explained;
    draw("chart-pca", traces, baseLayout({
      margin: { l: 56, r: 12, t: 10, b: 44 },
      hovermode: "closest",
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", itemclick: false, itemdoubleclick: false },
      xaxis: axis("xaxis", { title: { text: "PC1 (" + formatShare(explained[0]) + " of variance)" }, zeroline: false }),
      yaxis: axis("yaxis", { title: { text: "PC2 (" + formatShare(explained[1]) + " of variance)" }, zeroline: false }),
    }));
  }

  /* ---------- history: trend lines and the migration matrix (only when the data carry it) ---------- */

  function drawTrend() {
    const measure = data.trend_measures.find(function (m) { return m[0] === state.trendKpi; }) || data.trend_measures[0];
    const format = FORMATS[measure[2]];
    const traces = history.series.filter(function (series) {
      return series.segment === null || state.personas.has(series.segment);
    }).map(function (series) {
      const values = series[measure[0]];
      const name = plotlyText(series.segment === null ? series.name + " (no longer a segment)" : series.name);
      return {
        type: "scatter", mode: "lines+markers", name: name, x: history.months, y: values, connectgaps: false,
        line: { color: series.color, width: 2, dash: series.segment === null ? "dot" : "solid" },
        marker: { color: series.color, size: 7 },
        customdata: values.map(function (v) { return v === null ? "n/a" : format(v); }),
        hovertemplate: "<b>" + name + "</b><br>%{x}: %{customdata}<extra></extra>",
        meta: series.segment,
      };
    });
    let max = 0;
    traces.forEach(function (t) { t.y.forEach(function (v) { if (v !== null) max = Math.max(max, v); }); });
    const unit = measure[2] === "share" ? "share" : measure[2] === "count" ? "count" : "$";
    draw("chart-trend", traces, baseLayout({
      hovermode: "closest",
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", itemclick: false, itemdoubleclick: false },
      xaxis: axis("xaxis", { type: "category" }),
      yaxis: axis("yaxis", unit === "share" ? { tickformat: ".0%", rangemode: "tozero" } : axisFor(unit, max)),
    }));
  }

  function drawMigration() {
    const migration = history.migration;
    const title = document.getElementById("migration-title");
    const notes = document.getElementById("migration-notes");
    if (!migration) {
      title.textContent = "Customers moving between segments: shown from the second recorded month";
      draw("chart-migration", [], baseLayout({ xaxis: axis("xaxis", { visible: false }), yaxis: axis("yaxis", { visible: false }) }));
      return;
    }
    title.textContent = "Customers moving between segments, " + migration.month_from + " to " + migration.month_to +
      " (" + formatCount(migration.moved) + " of " + formatCount(migration.customers_both) + " moved)";
    notes.replaceChildren();
    migration.notes.forEach(function (text) {
      const li = document.createElement("li");
      li.textContent = text;
      notes.appendChild(li);
    });
    // Stayers (the diagonal) in neutral grey, movers coloured by their own scale so flows stand out.
    const counts = migration.counts;
    const stay = counts.map(function (row, i) {
      return row.map(function (v, j) { return migration.names_from[i] === migration.names_to[j] ? v : null; });
    });
    const moved = counts.map(function (row, i) {
      return row.map(function (v, j) { return migration.names_from[i] === migration.names_to[j] ? null : v; });
    });
    const x = migration.names_to.map(wrapLabel);
    const y = migration.names_from.map(wrapLabel);
    function cells(z, colorscale, zmax) {
      return {
        type: "heatmap", x: x, y: y, z: z, zmin: 0, zmax: zmax, colorscale: colorscale, showscale: false, xgap: 2, ygap: 2,
        text: z.map(function (row) { return row.map(function (v) { return v === null ? "" : formatCount(v); }); }),
        texttemplate: "%{text}", hoverongaps: false,
        hovertemplate: "from %{y}<br>to %{x}<br>%{text} customers<extra></extra>",
      };
    }
    const most = Math.max.apply(null, [1].concat(moved.flat().filter(function (v) { return v !== null; })));
    draw("chart-migration", [
      cells(stay, [[0, "#e3e8ee"], [1, "#e3e8ee"]], 1),
      cells(moved, [[0, "#ffffff"], [1, "#6a3d9a"]], most),
    ], baseLayout({
      margin: { l: 12, r: 12, t: 10, b: 12 },
      xaxis: axis("xaxis", { title: { text: "to (" + migration.month_to + ")" }, side: "top", tickangle: 0, linecolor: "#ffffff" }),
      yaxis: axis("yaxis", { title: { text: "from (" + migration.month_from + ")" }, autorange: "reversed", gridcolor: "#ffffff" }),
    }));
  }

  // A segment name for a Plotly axis: escaped, and broken over two lines when long.
  function wrapLabel(name) {
    const words = String(name).split(" ");
    if (String(name).length <= 12 || words.length < 2) return plotlyText(name);
    let best = 1;
    let bestGap = Infinity;
    for (let i = 1; i < words.length; i++) {
      const gap = Math.abs(words.slice(0, i).join(" ").length - words.slice(i).join(" ").length);
      if (gap < bestGap) { bestGap = gap; best = i; }
    }
    return plotlyText(words.slice(0, best).join(" ")) + "<br>" + plotlyText(words.slice(best).join(" "));
  }

  /* ---------- drawing queue: one chart per task, so the page stays responsive ---------- */

  let queue = [];
  let queued = false;

  function chartTasks() {
    const tasks = [];
    if (state.focus !== null) {
      data.distributions.forEach(function (d) { tasks.push(function () { drawHistogram(d[0]); }); });
    }
    tasks.push(drawMoney);
    tasks.push(function () { drawBands("chart-util", 3, cube.utilisation_bands); });
    tasks.push(function () { drawBands("chart-limit", 2, cube.limit_bands); });
    tasks.push(drawBoxes);
    tasks.push(drawMap);
    if (history) { tasks.push(drawTrend); tasks.push(drawMigration); }
    return tasks;
  }

  function scheduleCharts() {
    if (!plotly) return;
    queue = chartTasks();
    if (!queued) { queued = true; setTimeout(runQueue, 0); }
  }

  function runQueue() {
    const task = queue.shift();
    if (task) task();
    if (queue.length) { setTimeout(runQueue, 0); return; }
    queued = false;
    markDrawn();
  }

  // Every pending chart at once: the first drawing (inside the chart library's onload, so before the
  // window's load event: a screenshot or print taken "after load" has its charts) and before printing.
  function drawNow() {
    if (!plotly) return;
    const tasks = queue.length || queued ? queue : chartTasks();
    queue = [];
    tasks.forEach(function (task) { task(); });
    markDrawn();
  }

  function markDrawn() {
    if (document.documentElement.dataset.charts !== "drawn") {
      window.__chartsDrawnAt = performance.now();
      document.documentElement.dataset.charts = "drawn";
    }
  }

  /* ---------- page updates ---------- */

  function describeFilters(ids) {
    const parts = [];
    if (ids.length !== segments.length) {
      parts.push(ids.length ? ids.map(function (id) { return segmentById.get(id).name; }).join(", ") : "no persona");
    }
    if (state.tenure !== null) parts.push("tenure " + state.tenure + " months");
    if (state.limit !== null) parts.push("credit limit " + cube.limit_bands[state.limit]);
    if (state.util !== null) parts.push("utilisation " + cube.utilisation_bands[state.util]);
    if (history && state.month !== data.month) parts.push(state.month);
    return parts;
  }

  function updateTiles(total) {
    document.querySelectorAll("[data-kpi]").forEach(function (el) {
      el.textContent = kpiDisplay(el.dataset.kpi, total);
    });
  }

  function updateSegmentTable(sums, total) {
    const shown = total[MEASURE.customers];
    let largest = 0;
    sums.forEach(function (acc, id) { if (state.personas.has(id)) largest = Math.max(largest, acc[MEASURE.customers]); });
    document.querySelectorAll(".segment-table tbody tr").forEach(function (tr) {
      const id = Number(tr.dataset.segment);
      const customers = sums.get(id)[MEASURE.customers];
      const on = state.personas.has(id);
      tr.classList.toggle("off", !on);
      tr.querySelector('[data-field="customers"]').textContent = formatCount(customers);
      tr.querySelector('[data-field="share"]').textContent = on ? formatShare(shown ? customers / shown : 0) : "not selected";
      tr.querySelector('[data-field="bar"]').style.width = (on && largest ? 100 * customers / largest : 0).toFixed(1) + "%";
      tr.querySelector(".segment-button").setAttribute("aria-pressed", String(state.focus === id));
    });
  }

  function update() {
    readFilters();
    const ids = selectedIds();
    const sums = sumsBySegment(cubeRows(state.month));
    const total = addUp(sums, ids);
    const customers = total[MEASURE.customers];
    const described = describeFilters(ids);
    const portfolio = cubeRows(state.month).reduce(function (n, row) { return n + row[DIMS + MEASURE.customers]; }, 0);
    const status = document.getElementById("status");
    if (!described.length) status.textContent = "Showing all " + formatCount(customers) + " customers.";
    else if (!customers) status.textContent = "No customers match these filters (" + described.join("; ") + ").";
    else status.textContent = "Showing " + formatCount(customers) + " of " + formatCount(portfolio) + " customers: " + described.join("; ") + ".";
    updateTiles(total);
    updateSegmentTable(sums, total);
    if (state.focus !== null) updateDetail(sums);
    scheduleCharts();
  }

  /* ---------- drill-down ---------- */

  function fillList(id, items) {
    const list = document.getElementById(id);
    list.replaceChildren();
    (items.length ? items : ["none recorded"]).forEach(function (text) {
      const li = document.createElement("li");
      li.textContent = text;
      list.appendChild(li);
    });
  }

  // The profile index cell's shade: white at 100, red above, blue below, on the report's log scale.
  function indexShade(t) {
    const end = t > 0 ? [178, 24, 43] : [33, 102, 172];
    const a = Math.min(1, Math.abs(t));
    return "rgb(" + end.map(function (c) { return Math.round(255 + (c - 255) * a); }).join(", ") + ")";
  }

  function fillProfile(rows) {
    const body = document.querySelector("#detail-profile tbody");
    body.replaceChildren();
    if (!rows.length) { // a segment with no customers this month: no means to set against the portfolio's
      const tr = document.createElement("tr");
      const cell = document.createElement("td");
      cell.colSpan = 4;
      cell.textContent = "No profile: the segment has no customers this month.";
      tr.appendChild(cell);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      const tr = document.createElement("tr");
      row.slice(0, 4).forEach(function (text, i) {
        const cell = document.createElement(i ? "td" : "th");
        if (i) cell.className = "num"; else cell.scope = "row";
        cell.textContent = text;
        if (i === 3 && row[4] !== null) {
          cell.style.backgroundColor = indexShade(row[4]);
          if (Math.abs(row[4]) > 0.6) cell.style.color = "#ffffff";
        }
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
  }

  function openSegment(id, moveFocus) {
    if (!segmentById.has(id)) return;
    if (state.focus !== id) state.page = 0;
    state.focus = id;
    const s = segmentById.get(id);
    const detail = document.getElementById("detail");
    detail.hidden = false;
    document.getElementById("detail-name").textContent = s.name;
    document.getElementById("detail-swatch").style.backgroundColor = s.color;
    detail.style.setProperty("--segment", s.color);
    document.getElementById("detail-description").textContent = s.description;
    fillList("detail-traits", s.traits);
    fillList("detail-actions", s.actions);
    fillList("detail-risks", s.risks);
    fillProfile(s.profile);
    update();
    if (moveFocus) {
      document.getElementById("detail-heading").focus({ preventScroll: true });
      detail.scrollIntoView({ block: "start" });
    }
  }

  function closeSegment() {
    const id = state.focus;
    state.focus = null;
    document.getElementById("detail").hidden = true;
    update();
    const button = document.querySelector('.segment-button[data-segment="' + id + '"]');
    if (button) button.focus();
  }

  function focusRows() {
    return sampleRows(new Set([state.focus]));
  }

  function referenceRows() {
    return sampleRows(state.personas.size ? state.personas : new Set(segments.map(function (x) { return x.id; })));
  }

  // The focused segment's distribution of `column` (bars) against all customers shown (line).
  function drawHistogram(column) {
    if (state.focus === null) return;
    const color = segmentById.get(state.focus).color;
    const unit = unitOf(column);
    const ref = sortedValues(referenceRows(), column);
    const values = sortedValues(focusRows(), column);
    const top = Math.max(quantile(ref, 0.99) || 0, quantile(values, 0.99) || 0, unit === "share" ? 0.01 : 1);
    const bins = 20;
    const width = top / bins;
    function shares(sorted) {
      const counts = new Float64Array(bins);
      for (let i = 0; i < sorted.length; i++) counts[Math.min(bins - 1, Math.max(0, Math.floor(sorted[i] / width)))] += 1;
      return Array.from(counts, function (c) { return sorted.length ? c / sorted.length : 0; });
    }
    const fmt = unit === "share" ? function (v) { return formatShare(v, 0); } : function (v) { return formatMoney(v, true); };
    const centers = [];
    const edges = [];
    const ranges = [];
    for (let b = 0; b < bins; b++) {
      centers.push((b + 0.5) * width);
      edges.push(b * width);
      ranges.push(b === bins - 1 ? fmt(b * width) + " and over" : fmt(b * width) + " to " + fmt((b + 1) * width));
    }
    edges.push(top);
    const segShares = shares(values);
    const refShares = shares(ref);
    const traces = [
      {
        type: "bar", x: centers, y: segShares, width: width * 0.92, marker: { color: color }, name: "segment",
        customdata: segShares.map(function (v, i) { return [ranges[i], formatShare(v)]; }),
        hovertemplate: "%{customdata[0]}<br>segment: %{customdata[1]}<extra></extra>",
      },
      {
        // The reference as a step outline over the same bins (hover comes from the bars).
        type: "scatter", mode: "lines", x: edges, y: refShares.concat([refShares[bins - 1]]),
        line: { color: "#1d2733", width: 1.5, shape: "hv" }, name: "all shown", hoverinfo: "skip",
      },
      {
        type: "scatter", mode: "markers", x: centers, y: refShares, marker: { opacity: 0, size: 1 }, name: "all shown",
        customdata: refShares.map(function (v, i) { return [ranges[i], formatShare(v)]; }),
        hovertemplate: "all customers shown: %{customdata[1]}<extra></extra>",
      },
    ];
    draw("hist-" + column, traces, baseLayout({
      margin: { l: 44, r: 10, t: 6, b: 36 }, bargap: 0, hovermode: "x",
      xaxis: axis("xaxis", Object.assign(axisFor(unit, top, 3), { range: [0, top] })),
      yaxis: axis("yaxis", { tickformat: ".0%" }),
    }));
  }

  function updateDetail(sums) {
    const acc = sums.get(state.focus);
    document.querySelectorAll("[data-detail-kpi]").forEach(function (el) {
      el.textContent = kpiDisplay(el.dataset.detailKpi, acc);
    });
    const filters = describeFilters(segments.map(function (x) { return x.id; }));
    document.getElementById("detail-scope").textContent = filters.length
      ? "Figures for this segment within: " + filters.join("; ") + "."
      : "Figures for the whole segment.";
    document.getElementById("hist-note").textContent = "Share of the segment's sampled customers per range (bars) against all sampled customers shown (line); the last bar holds everything above the 99th percentile.";
    renderTable(focusRows());
  }

  function sortRows(rows) {
    const key = state.sortKey;
    const direction = state.sortDescending ? -1 : 1;
    const values = key === "id" ? sample.ids : sample.values[key];
    return rows.slice().sort(function (a, b) {
      const x = values[a];
      const y = values[b];
      if (x < y) return -direction;
      if (x > y) return direction;
      return a - b;
    });
  }

  function renderTable(rows) {
    const size = data.page_size;
    const pages = Math.max(1, Math.ceil(rows.length / size));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * size;
    const page = sortRows(rows).slice(start, start + size);
    const body = document.querySelector("#customer-table tbody");
    body.replaceChildren();
    page.forEach(function (i) {
      const tr = document.createElement("tr");
      const idCell = document.createElement("td");
      idCell.textContent = sample.ids[i];
      tr.appendChild(idCell);
      data.table_columns.forEach(function (c) {
        const td = document.createElement("td");
        td.className = "num";
        td.textContent = formatValue(sample.values[c[0]][i], c[2]);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = data.table_columns.length + 1;
      td.textContent = "No sampled customer of this segment matches the filters.";
      tr.appendChild(td);
      body.appendChild(tr);
    }
    const s = segmentById.get(state.focus);
    const whole = sample.size >= sample.total_customers;
    // The segment's real count (the cube covers every customer) first; the sample only as such.
    const real = sumsBySegment(cubeRows(state.month)).get(state.focus)[MEASURE.customers];
    document.getElementById("table-note").textContent = s.name + ": " + formatCount(real) + " customers" +
      (state.tenure !== null || state.limit !== null || state.util !== null ? " match the filters" : "") +
      (whole ? "; all listed" : "; listed here: the " + formatCount(rows.length) + " of them in a random sample of " +
        formatCount(sample.size) + " of the " + formatCount(sample.total_customers) + " customers") +
      (sample.ids_masked ? "; ids masked." : ".");
    document.getElementById("page-info").textContent = rows.length
      ? "Rows " + formatCount(start + 1) + " to " + formatCount(start + page.length) + " of " + formatCount(rows.length) + " · page " + (state.page + 1) + " of " + pages
      : "";
    document.getElementById("page-prev").disabled = state.page === 0;
    document.getElementById("page-next").disabled = state.page >= pages - 1;
    document.querySelectorAll("#customer-table th").forEach(function (th) {
      const key = th.querySelector("button").dataset.sort;
      th.setAttribute("aria-sort", key === state.sortKey ? (state.sortDescending ? "descending" : "ascending") : "none");
    });
  }

  /* ---------- wiring ---------- */

  function wire() {
    form.addEventListener("change", function () { state.page = 0; update(); });
    form.addEventListener("reset", function () { setTimeout(function () { state.page = 0; update(); }, 0); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    document.getElementById("personas-all").addEventListener("click", function () {
      personaBoxes.forEach(function (b) { b.checked = true; });
      update();
    });
    document.getElementById("personas-none").addEventListener("click", function () {
      personaBoxes.forEach(function (b) { b.checked = false; });
      update();
    });
    document.querySelectorAll(".segment-button").forEach(function (button) {
      button.addEventListener("click", function () { openSegment(Number(button.dataset.segment), true); });
    });
    document.getElementById("detail-close").addEventListener("click", closeSegment);
    document.getElementById("dist-feature").addEventListener("change", function (event) {
      state.distFeature = event.target.value;
      if (plotly) drawBoxes();
    });
    const trend = document.getElementById("trend-kpi");
    if (trend) trend.addEventListener("change", function (event) {
      state.trendKpi = event.target.value;
      if (plotly && history) drawTrend();
    });
    document.getElementById("page-prev").addEventListener("click", function () { state.page = Math.max(0, state.page - 1); update(); });
    document.getElementById("page-next").addEventListener("click", function () { state.page += 1; update(); });
    document.querySelectorAll("#customer-table th button").forEach(function (button) {
      button.addEventListener("click", function () {
        const key = button.dataset.sort;
        if (state.sortKey === key) state.sortDescending = !state.sortDescending;
        else { state.sortKey = key; state.sortDescending = key !== "id"; }
        state.page = 0;
        update();
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && state.focus !== null) closeSegment();
    });
    if (window.matchMedia && window.matchMedia("(max-width: 600px)").matches) {
      document.getElementById("filters-panel").open = false;
    }
  }

  function showProblem(message) {
    const box = document.getElementById("load-error");
    box.textContent = message;
    box.hidden = false;
  }

  // plotly.js (about 5 MB) is embedded as text and run from a blob: URL once the page is usable:
  // the browser compiles it off the main thread, and tiles, filters and tables work meanwhile.
  function loadCharts() {
    const source = document.getElementById("plotly-source");
    if (window.Plotly || !source) { chartsLoaded(); return; }
    const url = URL.createObjectURL(new Blob([source.textContent], { type: "text/javascript" }));
    const script = document.createElement("script");
    script.onload = function () { URL.revokeObjectURL(url); chartsLoaded(); };
    script.onerror = function () {
      URL.revokeObjectURL(url);
      showProblem("The chart library could not be started: charts are missing; tiles, filters and tables still work.");
    };
    script.src = url;
    document.body.appendChild(script);
  }

  function chartsLoaded() {
    plotly = window.Plotly || null;
    performance.mark("reportgen-charts-library");
    if (!plotly) {
      showProblem("The chart library did not load: charts are missing; tiles, filters and tables still work.");
      return;
    }
    drawNow();
  }

  window.addEventListener("beforeprint", drawNow);

  try {
    wire();
    update();
    window.ReportgenDashboard = {
      format: { count: formatCount, money: formatMoney, share: formatShare, number: formatNumber, value: formatValue },
      kpis: function () {
        const total = addUp(sumsBySegment(cubeRows(state.month)), selectedIds());
        const out = {};
        Object.keys(data.kpi_formulas).forEach(function (key) { out[key] = kpiDisplay(key, total); });
        return out;
      },
      openSegment: function (id) { openSegment(id, false); },
      state: state,
    };
    window.__dashboardReadyAt = performance.now();
    document.documentElement.dataset.dashboard = "ready";
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", loadCharts);
    else loadCharts();
  } catch (error) {
    showProblem("Part of the dashboard could not be drawn (" + (error && error.message ? error.message : String(error)) + ").");
    document.documentElement.dataset.dashboard = "error";
    throw error;
  }
})();
