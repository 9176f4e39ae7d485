/// The report page's style and its one inline script (no library, no network): it reads the
/// embedded JSON (`HTMLReport.data`) and draws each chart as SVG with axes, ticks and grid, a log
/// scale where asked (by default where a series spans two decades or more), the smoothing
/// control applied to train curves (TensorBoard's debiased exponential moving average), and the
/// values of every series at the pointer. Each chart marks itself drawn
/// (`data-drawn="<series>"`) and a script error marks the page (`data-error`), which is what
/// the browser test reads.
enum ReportScript {
    static let style = """
    body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
    h1{font-size:1.4em}h2{font-size:1.1em;margin:1.2em 0 .3em}
    .controls{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ddd;z-index:2}
    .chart{position:relative;margin-bottom:1em}.chart svg{background:#fcfcfc;border:1px solid #ddd}
    .chart .tools{font-size:.85em;color:#555}.legend{font-size:.85em}.legend span{margin-right:1.2em;white-space:nowrap}
    .tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.95);border:1px solid #aaa;padding:4px 6px;
    font-size:12px;display:none;white-space:nowrap;z-index:3}
    table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
    pre{white-space:pre-wrap;margin:0;max-width:30em;font-size:.85em}.diff td:first-child{font-family:monospace}
    """

    static let script = #"""
    (function () {
      window.addEventListener('error', function (e) { document.body.setAttribute('data-error', String(e.message)); });
      var D = JSON.parse(document.getElementById('report-data').textContent);
      var NS = 'http://www.w3.org/2000/svg';
      var palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
      var W = 900, H = 300, L = 64, R = 16, T = 14, B = 36;
      var smoothing = document.getElementById('smoothing');

      function el(name, attrs, parent) {
        var e = document.createElementNS(NS, name);
        for (var k in attrs) e.setAttribute(k, attrs[k]);
        if (parent) parent.appendChild(e);
        return e;
      }
      function fmt(v) {
        if (v === 0) return '0';
        var a = Math.abs(v);
        return (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : String(+v.toPrecision(4));
      }
      // Round step sizes 1, 2, 5 x 10^k, about n ticks.
      function ticks(lo, hi, n) {
        var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n)));
        var err = span / n / step;
        if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
        var out = [];
        for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
        return out;
      }
      function logTicks(lo, hi) {
        var out = [];
        for (var p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
          var v = Math.pow(10, p);
          if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
        }
        return out.length >= 2 ? out : ticks(lo, hi, 5);
      }
      function smooth(points, w) {
        if (w <= 0) return points;
        var last = 0, out = [];
        for (var i = 0; i < points.length; i++) {
          last = last * w + (1 - w) * points[i][1];
          out.push([points[i][0], last / (1 - Math.pow(w, i + 1))]);
        }
        return out;
      }
      // Every series of one chart: per run, metric and split (eval dashed with markers).
      function seriesOf(chart) {
        var out = [], i = 0;
        D.runs.forEach(function (run, r) {
          chart.metrics.forEach(function (metric, m) {
            var splits = run.series[metric] || {};
            ['train', 'eval'].forEach(function (split) {
              var pts = splits[split];
              if (!pts || !pts.length) return;
              var color = palette[(D.runs.length > 1 ? r * chart.metrics.length + m : m + (split === 'eval' ? chart.metrics.length : 0)) % palette.length];
              var label = (D.runs.length > 1 ? run.name + ' · ' : '') + metric + ' (' + split + ')';
              out.push({label: label, color: color, split: split, raw: pts, i: i++});
            });
          });
        });
        return out;
      }
      function draw(box) {
        var chart = D.charts[+box.getAttribute('data-index')];
        var series = seriesOf(chart);
        var w = +smoothing.value;
        series.forEach(function (s) { s.points = s.split === 'train' ? smooth(s.raw, w) : s.raw; });
        var xs = [], ys = [];
        series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
        var logBox = box.querySelector('input.log');
        var positive = ys.every(function (y) { return y > 0; });
        logBox.disabled = !positive;
        var useLog = positive && logBox.checked;
        var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
        if (x1 === x0) { x1 = x0 + 1; }
        var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
        if (useLog) { y0 = Math.log10(y0); y1 = Math.log10(y1); }
        if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
        var pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
        function px(x) { return L + (x - x0) / (x1 - x0) * (W - L - R); }
        function py(y) { var v = useLog ? Math.log10(y) : y; return T + (y1 - v) / (y1 - y0) * (H - T - B); }
        var svg = box.querySelector('svg');
        while (svg.firstChild) svg.removeChild(svg.firstChild);
        var grid = el('g', {stroke: '#e4e4e4'}, svg), labels = el('g', {'font-size': 11, fill: '#555'}, svg);
        var yt = useLog ? logTicks(Math.pow(10, y0), Math.pow(10, y1)) : ticks(y0, y1, 6);
        yt.forEach(function (v) {
          var y = py(v);
          el('line', {x1: L, x2: W - R, y1: y, y2: y}, grid);
          el('text', {x: L - 6, y: y + 4, 'text-anchor': 'end'}, labels).textContent = fmt(v);
        });
        ticks(x0, x1, 8).forEach(function (v) {
          var x = px(v);
          el('line', {x1: x, x2: x, y1: T, y2: H - B}, grid);
          el('text', {x: x, y: H - B + 15, 'text-anchor': 'middle'}, labels).textContent = fmt(v);
        });
        el('text', {x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle'}, labels).textContent = 'examples seen';
        el('rect', {x: L, y: T, width: W - L - R, height: H - T - B, fill: 'none', stroke: '#999'}, svg);
        series.forEach(function (s) {
          var d = s.points.map(function (p, k) { return (k ? 'L' : 'M') + px(p[0]).toFixed(1) + ' ' + py(p[1]).toFixed(1); }).join('');
          var attrs = {d: d, fill: 'none', stroke: s.color, 'stroke-width': 1.6, 'class': 'series'};
          if (s.split === 'eval') attrs['stroke-dasharray'] = '5 3';
          el('path', attrs, svg);
          if (s.split === 'eval' || s.points.length === 1) {
            s.points.forEach(function (p) { el('circle', {cx: px(p[0]), cy: py(p[1]), r: 2.5, fill: s.color}, svg); });
          }
        });
        var cursor = el('line', {y1: T, y2: H - B, stroke: '#888', 'stroke-dasharray': '2 2', visibility: 'hidden'}, svg);
        var tip = box.querySelector('.tip');
        svg.onmousemove = function (ev) {
          var rect = svg.getBoundingClientRect();
          var x = x0 + (ev.clientX - rect.left - L) / (W - L - R) * (x1 - x0);
          var rows = series.map(function (s) {
            var best = s.points[0];
            s.points.forEach(function (p) { if (Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p; });
            return '<span style="color:' + s.color + '">■</span> ' + s.label + ': ' + fmt(best[1]) + ' @ ' + best[0];
          });
          cursor.setAttribute('x1', px(Math.max(x0, Math.min(x1, x))));
          cursor.setAttribute('x2', px(Math.max(x0, Math.min(x1, x))));
          cursor.setAttribute('visibility', 'visible');
          tip.innerHTML = rows.join('<br>');
          tip.style.display = 'block';
          tip.style.left = Math.min(ev.clientX - rect.left + 14, W - 260) + 'px';
          tip.style.top = (ev.clientY - rect.top + 10) + 'px';
        };
        svg.onmouseleave = function () { tip.style.display = 'none'; cursor.setAttribute('visibility', 'hidden'); };
        box.querySelector('.legend').innerHTML = series.map(function (s) {
          return '<span style="color:' + s.color + '">' + (s.split === 'eval' ? '- - ' : '—— ') + s.label.replace(/</g, '&lt;') + '</span>';
        }).join('');
        box.setAttribute('data-drawn', String(series.length));
      }
      var boxes = Array.prototype.slice.call(document.querySelectorAll('.chart'));
      boxes.forEach(function (box) {
        var chart = D.charts[+box.getAttribute('data-index')];
        var ys = [];
        D.runs.forEach(function (run) { chart.metrics.forEach(function (m) {
          var s = run.series[m] || {};
          ['train', 'eval'].forEach(function (k) { (s[k] || []).forEach(function (p) { ys.push(p[1]); }); });
        }); });
        var lo = Math.min.apply(null, ys), hi = Math.max.apply(null, ys);
        box.querySelector('input.log').checked = lo > 0 && hi / lo >= 100;
        box.querySelector('input.log').onchange = function () { draw(box); };
        draw(box);
      });
      smoothing.oninput = function () {
        document.getElementById('smoothing-value').textContent = (+smoothing.value).toFixed(2);
        boxes.forEach(draw);
      };
    })();
    """#
}
