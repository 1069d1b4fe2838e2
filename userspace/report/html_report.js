/* loadscope HTML report: draws every section from the report document embedded in the page
 * (docs/report-document.md). Strings from the document are untrusted (they come from the
 * target and the user): they only ever reach the page through textContent, attribute values
 * set with setAttribute, or Chart.js (which draws them on a canvas) -- never as markup. */
(function () {
  'use strict';

  var doc = JSON.parse(document.getElementById('report-data').textContent);
  var DASH = '\u2014';

  /* ---- helpers ------------------------------------------------------------------------- */

  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function obj(v) { return isObj(v) ? v : {}; }
  function str(v) { return typeof v === 'string' ? v : null; }

  /* el('td', {class: 'num'}, 'text', childNode, ...): children are text or nodes. */
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] === null || attrs[k] === undefined) return;
        if (k === 'class') e.className = attrs[k];
        else e.setAttribute(k, String(attrs[k]));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(parent, c); }); return; }
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  function body(id) { return document.querySelector('#' + id + ' > .body'); }
  function notice(text) { return el('p', {class: 'notice'}, text); }

  function fixed(v, d) { return v.toLocaleString('en-US', {minimumFractionDigits: d, maximumFractionDigits: d}); }
  function fmtMs(v) {
    if (!isNum(v)) return DASH;
    var a = Math.abs(v);
    return a < 10 ? fixed(v, 2) : a < 1000 ? fixed(v, 1) : fixed(v, 0);
  }
  function fmtRate(v) { return isNum(v) ? fixed(v, Math.abs(v) < 100 ? 2 : 1) : DASH; }
  function fmtInt(v) { return isNum(v) ? fixed(v, 0) : DASH; }
  function fmtNum(v) { return isNum(v) ? String(Math.round(v * 1000) / 1000) : DASH; }
  function fmtPct(v) { return isNum(v) ? fixed(v * 100, 1) + '%' : DASH; }
  function fmtBytes(v) {
    if (!isNum(v)) return DASH;
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i ? fixed(v, 1) : fixed(v, 0)) + ' ' + units[i];
  }
  function fmtSec(v) {
    if (!isNum(v)) return DASH;
    if (v < 60) return fmtNum(Math.round(v * 100) / 100) + ' s';
    var m = Math.floor(v / 60), s = Math.round(v - m * 60);
    return m + ' min ' + s + ' s';
  }
  function text(v) { var s = str(v); return s === null || s === '' ? DASH : s; }

  function kv(pairs) {
    var dl = el('dl', {class: 'kv'});
    pairs.forEach(function (p) {
      if (!p) return;
      dl.appendChild(el('dt', null, p[0]));
      dl.appendChild(el('dd', p[2] ? {class: p[2]} : null, p[1]));
    });
    return dl;
  }

  /* columns: [{title, num, get(row) -> text or node, cls(row)}] */
  function table(columns, rows, rowClass, tableClass) {
    var head = el('tr', null, columns.map(function (c) {
      return el('th', c.num ? {class: 'num'} : null, c.title);
    }));
    var tbody = el('tbody');
    rows.forEach(function (r) {
      tbody.appendChild(el('tr', rowClass ? {class: rowClass(r)} : null, columns.map(function (c) {
        var cls = [c.num ? 'num' : '', c.name ? 'name' : '', c.cls ? c.cls(r) : ''].join(' ').trim();
        return el('td', cls ? {class: cls} : null, c.get(r));
      })));
    });
    return el('div', {class: 'table-scroll'}, el('table', tableClass ? {class: tableClass} : null, el('thead', null, head), tbody));
  }

  function endpointName(e) {
    var m = str(e.method), n = text(e.name);
    return m ? m + ' ' + n : n;
  }

  /* ---- palettes ------------------------------------------------------------------------ */

  var CAUSES = {
    'inference': ['inference (model compute)', '#c0392b'],
    'queue': ['queueing before the workers', '#d68910'],
    'workers': ['too few workers', '#7d3c98'],
    'cpu-contention': ['CPU contention', '#a93226'],
    'load-generator': ['the load generator itself', '#2e86c1'],
    'network-errors': ['network / errors', '#5d6d7e'],
    'none': ['no bottleneck found', '#1e7b46']
  };
  function causeLabel(name) { return CAUSES[name] ? CAUSES[name][0] : text(name); }
  function causeColour(name) { return CAUSES[name] ? CAUSES[name][1] : '#5d6675'; }

  var COMPONENTS = {
    send_lag: ['Sent late by the generator', '#e5a50a'], event_wait: ['Event-loop wait', '#98c1d9'],
    connect: ['Connect', '#9aa5b1'], network_client: ['Network + client', '#c3cad3'],
    accept_queue: ['Accept queue', '#e8a33d'], receive_queue: ['Receive queue', '#f2cf5b'],
    on_cpu: ['On-CPU', '#d1495b'], run_queue: ['Run queue', '#8f2d56'],
    lock: ['Lock', '#5c80bc'], downstream: ['Downstream', '#4d9de0'], disk: ['Disk', '#3bb273'],
    sleep: ['Sleep', '#7768ae'], other_offcpu: ['Other off-CPU', '#6b7785'], send: ['Send', '#2e4057']
  };
  var OFFCPU = {
    lock: ['lock / futex', '#5c80bc'], downstream: ['downstream socket', '#4d9de0'],
    disk: ['disk', '#3bb273'], sleep: ['sleep', '#7768ae'], idle: ['idle (waiting for work)', '#c3cad3'],
    other: ['other', '#6b7785']
  };
  var EXTRA = ['#1a5fb4', '#e66100', '#26a269', '#c64600', '#613583', '#865e3c', '#63452c'];
  function pick(map, key, i) {
    return map[key] || [key, EXTRA[i % EXTRA.length]];
  }

  /* ---- header -------------------------------------------------------------------------- */

  function renderHeader() {
    var run = obj(doc.run);
    var title = 'Load test ' + text(run.id);
    document.getElementById('run-title').textContent = title;
    document.title = 'loadscope \u00b7 ' + title;
    var meta = document.getElementById('run-meta');
    var items = [
      ['Started', text(run.started_at)],
      ['Duration', fmtSec(run.duration_s)],
      ['Requests', fmtInt(obj(obj(doc.stats).aggregated).requests)],
      ['Verdict', isObj(doc.verdict) && isObj(doc.verdict.run) ? causeLabel(doc.verdict.run.primary) : 'none']
    ];
    if (run.interrupted === true) items.push(['Run', 'interrupted']);
    items.forEach(function (it) { meta.appendChild(el('span', null, it[0] + ': ', el('b', null, it[1]))); });
    document.getElementById('footer').textContent = 'Generated by loadscope ' + text(doc.loadscope_version) +
      ' \u00b7 report document schema ' + fmtInt(doc.schema) + ' \u00b7 self-contained: no network access.';
  }

  /* ---- verdict ------------------------------------------------------------------------- */

  function onsetText(c) {
    if (!isNum(c.onset_s)) return null;
    return 'onset at t = ' + fmtNum(c.onset_s) + ' s' + (isNum(c.onset_users) ? ', ' + fmtInt(c.onset_users) + ' users' : '');
  }

  function renderCause(c) {
    var score = isNum(c.score) ? Math.max(0, Math.min(1, c.score)) : null;
    var li = el('li', {class: 'cause', style: 'border-left-color:' + causeColour(c.name)},
      el('div', null,
        el('span', {class: 'name'}, causeLabel(c.name)),
        score === null ? null : el('span', {class: 'score', title: 'score ' + fixed(score, 2)},
          el('i', {style: 'width:' + (score * 100).toFixed(0) + '%'})),
        score === null ? null : el('span', {class: 'muted'}, 'score ' + fixed(score, 2)),
        onsetText(c) ? el('span', {class: 'onset'}, ' \u00b7 ' + onsetText(c)) : null),
      str(c.summary) ? el('div', null, c.summary) : null);
    var ev = arr(c.evidence).filter(function (e) { return typeof e === 'string'; });
    if (ev.length) li.appendChild(el('ul', null, ev.map(function (e) { return el('li', null, e); })));
    return li;
  }

  function renderVerdictBlock(v, big) {
    var out = [];
    out.push(el('div', {class: 'verdict-head'},
      el('span', {class: 'badge', style: 'background:' + causeColour(v.primary)}, causeLabel(v.primary)),
      v.mixed === true ? el('span', {class: 'chip mixed', title: 'several causes are close: read them all'}, 'mixed causes') : null));
    if (str(v.summary)) out.push(el(big ? 'p' : 'div', {class: big ? 'summary' : ''}, v.summary));
    var causes = arr(v.causes).filter(isObj);
    if (causes.length) {
      if (big) out.push(el('h3', null, 'Causes, most likely first'));
      out.push(el('ol', {class: 'causes'}, causes.map(renderCause)));
    }
    var recs = arr(v.recommendations).filter(function (r) { return typeof r === 'string'; });
    if (recs.length) {
      out.push(el('h3', null, 'Recommendations'));
      out.push(el('ol', {class: 'recs'}, recs.map(function (r) { return el('li', null, r); })));
    }
    return out;
  }

  function renderVerdict() {
    var b = body('verdict');
    var v = obj(doc.verdict);
    if (!isObj(v.run)) {
      b.appendChild(notice('No verdict: this run has no correlated analysis (' +
        (obj(doc.tracing).enabled === true ? 'no data to judge' : 'server tracing was off') + ').'));
    } else {
      add(b, renderVerdictBlock(v.run, true));
    }
    var reps = obj(v.replicas), names = Object.keys(reps);
    if (names.length) {
      b.appendChild(el('h3', null, 'Per replica'));
      names.forEach(function (n) {
        if (!isObj(reps[n])) return;
        b.appendChild(el('div', {class: 'cause', style: 'border-left-color:' + causeColour(reps[n].primary) + ';margin-bottom:8px'},
          el('div', {class: 'name'}, n), renderVerdictBlock(reps[n], false)));
      });
    }
    var th = arr(doc.thresholds).filter(isObj);
    if (th.length) {
      b.appendChild(el('h3', null, 'Thresholds'));
      b.appendChild(table([
        {title: 'Threshold', get: function (t) { return el('code', null, text(t.expr)); }},
        {title: 'Endpoint', get: function (t) { return str(t.endpoint) || 'Aggregated'; }},
        {title: 'Value', num: true, get: function (t) {
          return t.no_data === true ? 'no data' : str(t.shown) || (fmtNum(t.value) + (str(t.unit) ? ' ' + t.unit : ''));
        }},
        {title: 'Result', get: function (t) {
          return t.ok === true ? el('span', {class: 'chip pass'}, 'pass') : el('span', {class: 'chip fail'}, 'FAIL');
        }}
      ], th));
    }
  }

  /* ---- settings ------------------------------------------------------------------------ */

  function loadModel(load) {
    if (load.model === 'open') {
      return 'open loop' + (isNum(load.rate) ? ', ' + fmtNum(load.rate) + ' req/s' : '') +
        (isNum(load.connections) ? ', ' + fmtInt(load.connections) + ' connections' : '');
    }
    if (load.model === 'closed') {
      return 'closed loop' + (isNum(load.users) ? ', ' + fmtInt(load.users) + ' users' : '') +
        (isNum(load.spawn_rate) ? ', spawn rate ' + fmtNum(load.spawn_rate) + '/s' : '') +
        (str(load.wait) ? ', wait ' + load.wait : '');
    }
    return text(load.model);
  }

  function renderSettings() {
    var b = body('settings');
    var run = obj(doc.run), load = obj(run.load), env = obj(doc.environment);
    var stages = arr(load.stages).filter(isObj).map(function (s) {
      return 'to ' + fmtNum(s.target) + ' over ' + fmtNum(s.duration_s) + ' s';
    }).join(', then ');
    var left = el('div', null, el('h3', null, 'Run'), kv([
      ['Run id', text(run.id), 'mono'],
      ['Started', text(run.started_at)],
      ['Duration', fmtSec(run.duration_s) + (run.interrupted === true ? ' (interrupted)' : '')],
      ['Load model', loadModel(load)],
      stages ? ['Stages', stages] : null,
      isNum(load.threads) ? ['Generator threads', fmtInt(load.threads)] : null,
      isNum(load.max_requests) ? ['Max requests', fmtInt(load.max_requests)] : null,
      ['Targets', arr(run.hosts).filter(isObj).map(function (h) {
        return el('div', {class: 'mono'}, text(h.url) + (arr(run.hosts).length > 1 && isNum(h.weight) ? '  (weight ' + fmtNum(h.weight) + ')' : ''));
      })]
    ]));
    var right = el('div', null, el('h3', null, 'Environment'), kv([
      ['Host', text(env.hostname)],
      ['OS', text(env.os)],
      ['Kernel', text(env.kernel)],
      ['CPU', text(env.cpu_model) + (isNum(env.cores) ? ' (' + fmtInt(env.cores) + ' cores)' : '')],
      ['Memory', fmtBytes(env.memory_bytes)],
      ['loadscope', text(doc.loadscope_version)]
    ]));
    b.appendChild(el('div', {class: 'cols'}, left, right));
    b.appendChild(el('h3', null, 'Command'));
    b.appendChild(el('div', {class: 'pre'}, text(run.command)));
    var eps = arr(run.endpoints).filter(isObj);
    if (eps.length) {
      b.appendChild(el('h3', null, 'Endpoints'));
      b.appendChild(table([
        {title: 'Method', get: function (e) { return text(e.method); }},
        {title: 'Name', name: true, get: function (e) { return text(e.name); }},
        {title: 'Path', name: true, get: function (e) { return el('span', {class: 'mono'}, text(e.path)); }},
        {title: 'Weight', num: true, get: function (e) { return fmtNum(e.weight); }}
      ], eps));
    }
    var reps = arr(doc.replicas).filter(isObj);
    b.appendChild(el('h3', null, 'Server replicas'));
    if (reps.length) {
      b.appendChild(table([
        {title: 'Replica', get: function (r) { return text(r.name); }},
        {title: 'Found by', get: function (r) { return el('span', {class: 'mono'}, text(r.spec)); }},
        {title: 'PIDs', get: function (r) { return arr(r.pids).filter(isNum).join(', ') || DASH; }},
        {title: 'Workers', num: true, get: function (r) { return fmtInt(r.workers); }},
        {title: 'Cores', num: true, get: function (r) { return fmtInt(r.cores); }}
      ], reps));
    } else {
      b.appendChild(notice('No server replica was traced' + tracingReason() + '.'));
    }
  }

  function tracingReason() {
    var t = obj(doc.tracing);
    if (t.enabled === true) return '';
    return str(t.reason) ? ': ' + t.reason : ' (server tracing was off)';
  }

  /* ---- requests ------------------------------------------------------------------------ */

  var PCTS = ['66', '75', '80', '90', '95', '98', '99', '99.9', '99.99', '100'];

  function renderRequests() {
    var b = body('requests');
    var stats = obj(doc.stats);
    var rows = arr(stats.endpoints).filter(isObj);
    if (isObj(stats.aggregated)) rows = rows.concat([stats.aggregated]);
    if (!rows.length) {
      b.appendChild(notice('No requests were completed.'));
    } else {
      var cols = [
        {title: 'Type', get: function (e) { return text(e.method) === DASH ? '' : e.method; }},
        {title: 'Name', name: true, get: function (e) { return text(e.name); }},
        {title: '# Requests', num: true, get: function (e) { return fmtInt(e.requests); }},
        {title: '# Fails', num: true, get: function (e) { return fmtInt(e.failures); },
          cls: function (e) { return isNum(e.failures) && e.failures > 0 ? 'bad' : ''; }},
        {title: 'Median', num: true, get: function (e) { return fmtMs(e.median_ms); }}
      ];
      PCTS.forEach(function (p) {
        cols.push({title: p + '%', num: true, get: function (e) { return fmtMs(obj(e.percentiles_ms)[p]); }});
      });
      cols.push(
        {title: 'Average', num: true, get: function (e) { return fmtMs(e.avg_ms); }},
        {title: 'Min', num: true, get: function (e) { return fmtMs(e.min_ms); }},
        {title: 'Max', num: true, get: function (e) { return fmtMs(e.max_ms); }},
        {title: 'Average size (bytes)', num: true, get: function (e) { return fmtNum(e.avg_content_size_bytes); }},
        {title: 'RPS', num: true, get: function (e) { return fmtRate(e.rps); }},
        {title: 'Failures/s', num: true, get: function (e) { return fmtRate(e.failures_per_s); }});
      b.appendChild(el('p', {class: 'muted'}, 'Response times in milliseconds; the percentile columns (66% ... 100%) are ' +
        'unrounded (Locust rounds them to about two significant digits); RPS and failures/s are averages over the whole run.'));
      b.appendChild(table(cols, rows, function (r) { return r === stats.aggregated ? 'total' : ''; }, 'compact'));
    }

    b.appendChild(el('h3', null, 'Failures'));
    var fails = arr(stats.failures).filter(isObj);
    if (!fails.length) {
      b.appendChild(el('p', {class: 'muted'}, 'No failures.'));
    } else {
      b.appendChild(table([
        {title: 'Type', get: function (f) { return text(f.method); }},
        {title: 'Name', name: true, get: function (f) { return text(f.name); }},
        {title: 'Error', name: true, get: function (f) { return text(f.error); }},
        {title: 'Occurrences', num: true, get: function (f) { return fmtInt(f.occurrences); }},
        {title: 'First seen (s)', num: true, get: function (f) { return fmtNum(f.first_seen_s); }},
        {title: 'Last seen (s)', num: true, get: function (f) { return fmtNum(f.last_seen_s); }}
      ], fails));
    }

    var phases = obj(stats.phases_ms), names = [['connect', 'Connect'], ['tls', 'TLS handshake'], ['ttfb', 'Time to first byte'], ['total', 'Total']];
    var prow = names.filter(function (n) { return isObj(phases[n[0]]); });
    if (prow.length) {
      b.appendChild(el('h3', null, 'Client-side phases'));
      b.appendChild(table([
        {title: 'Phase', get: function (n) { return n[1]; }},
        {title: 'Average (ms)', num: true, get: function (n) { return fmtMs(phases[n[0]].avg); }},
        {title: 'p50 (ms)', num: true, get: function (n) { return fmtMs(phases[n[0]].p50); }},
        {title: 'p95 (ms)', num: true, get: function (n) { return fmtMs(phases[n[0]].p95); }},
        {title: 'p99 (ms)', num: true, get: function (n) { return fmtMs(phases[n[0]].p99); }}
      ], prow));
    }
    if (isObj(stats.open_loop)) {
      var ol = stats.open_loop, u = obj(ol.uncorrected);
      b.appendChild(el('h3', null, 'Open loop'));
      b.appendChild(kv([
        ['Late sends', fmtInt(ol.late_sends) + ' (the generator could not keep the schedule)'],
        ['Uncorrected latency', 'p50 ' + fmtMs(u.p50_ms) + ' ms, p95 ' + fmtMs(u.p95_ms) + ' ms, p99 ' + fmtMs(u.p99_ms) +
          ' ms (from the actual send; the tables above are corrected for coordinated omission)']
      ]));
    }
  }

  /* ---- charts -------------------------------------------------------------------------- */

  var chartsOk = typeof Chart === 'function';
  if (chartsOk) {
    Chart.defaults.animation = false;
    Chart.defaults.responsive = true;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 11;
    Chart.defaults.color = '#5d6675';
    Chart.defaults.plugins.legend.position = 'bottom';
    Chart.defaults.plugins.legend.labels.boxWidth = 12;
    Chart.defaults.interaction = {mode: 'index', intersect: false};
    Chart.defaults.elements.point.radius = 0;
    Chart.defaults.elements.point.hoverRadius = 3;
    Chart.defaults.elements.line.borderWidth = 1.6;
  }

  function chartBox(title, tall) {
    var canvas = el('canvas', {role: 'img', 'aria-label': title});
    var box = el('div', {class: 'chart' + (tall ? ' tall' : '')}, el('h4', null, title), el('div', {class: 'canvas-box'}, canvas));
    return {box: box, canvas: canvas};
  }

  function timeAxis(rows) {
    return {type: 'linear', min: rows[0].t, max: rows[rows.length - 1].t,
      title: {display: true, text: 'time (s)'}, ticks: {precision: 0}};
  }

  /* series: [{label, colour, get(row) -> number|null, axis, dash, fill}] over the timeline */
  function lineChart(parent, title, rows, series, yTitle, y2Title, yMax) {
    var c = chartBox(title);
    parent.appendChild(c.box);
    if (!chartsOk) { c.box.appendChild(notice('Chart.js is missing from this file.')); return; }
    var scales = {x: timeAxis(rows), y: {beginAtZero: true, suggestedMax: yMax, title: {display: !!yTitle, text: yTitle || ''}}};
    if (y2Title) scales.y2 = {beginAtZero: true, position: 'right', grid: {drawOnChartArea: false}, title: {display: true, text: y2Title}};
    new Chart(c.canvas, {
      type: 'line',
      data: {datasets: series.map(function (s) {
        return {
          label: s.label, borderColor: s.colour, backgroundColor: s.colour + '33', yAxisID: s.axis || 'y',
          borderDash: s.dash || [], fill: !!s.fill, spanGaps: false, stepped: !!s.stepped,
          data: rows.map(function (r) { var v = s.get(r); return {x: r.t, y: isNum(v) ? v : null}; })
        };
      })},
      /* min-max decimation keeps every peak while drawing at most ~2 points per pixel:
       * a one-hour run has 3,600 points per series */
      options: {scales: scales, parsing: false, normalized: true,
        plugins: {decimation: {enabled: rows.length > 400, algorithm: 'min-max'}}}
    });
  }

  function timelineRows() {
    return arr(doc.timeline).filter(function (r) { return isObj(r) && isNum(r.t); });
  }

  function renderTimeline() {
    var b = body('timeline'), rows = timelineRows();
    if (!rows.length) { b.appendChild(notice('No per-second timeline was recorded.')); return; }
    var grid = el('div', {class: 'charts'});
    b.appendChild(grid);
    lineChart(grid, 'Throughput', rows, [
      {label: 'requests/s', colour: '#1a5fb4', get: function (r) { return r.rps; }},
      {label: 'failures/s', colour: '#c01c28', get: function (r) { return r.failures_per_s; }, axis: 'y2'}
    ], 'requests/s', 'failures/s');
    lineChart(grid, 'Response time', rows, [
      {label: 'p50', colour: '#26a269', get: function (r) { return r.p50_ms; }},
      {label: 'p95', colour: '#e66100', get: function (r) { return r.p95_ms; }},
      {label: 'p99', colour: '#c01c28', get: function (r) { return r.p99_ms; }}
    ], 'ms');
    if (rows.some(function (r) { return isNum(r.users); })) {
      lineChart(grid, 'Users', rows, [
        {label: 'users', colour: '#613583', get: function (r) { return r.users; }, stepped: true}
      ], 'users');
    }
    if (rows.some(function (r) { return isNum(r.generator_cpu); })) {
      lineChart(grid, 'Load generator', rows, [
        {label: 'generator CPU (%)', colour: '#2e86c1', get: function (r) { return isNum(r.generator_cpu) ? r.generator_cpu * 100 : null; }},
        {label: 'late sends', colour: '#a15c00', get: function (r) { return r.late_sends; }, axis: 'y2'}
      ], '% of its threads', 'late sends', 100);
    }
  }

  function replicaNames(rows) {
    var names = arr(doc.replicas).filter(isObj).map(function (r) { return str(r.name); }).filter(Boolean);
    rows.forEach(function (r) {
      Object.keys(obj(r.replicas)).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
    });
    return names;
  }

  function replicaInfo(name) {
    var found = arr(doc.replicas).filter(function (r) { return isObj(r) && r.name === name; });
    return found.length ? found[0] : {};
  }

  function renderReplica(parent, name, rows) {
    var rep = function (r) { return obj(obj(r.replicas)[name]); };
    var info = replicaInfo(name);
    var block = el('div', {class: 'replica'}, el('h3', null, 'Replica ' + name +
      (isNum(info.cores) ? ' \u00b7 ' + fmtInt(info.cores) + ' cores' : '') +
      (isNum(info.workers) ? ' \u00b7 ' + fmtInt(info.workers) + ' workers' : '')));
    var grid = el('div', {class: 'charts'});
    block.appendChild(grid);
    parent.appendChild(block);
    var cpu = [{label: 'CPU cores used', colour: '#d1495b', get: function (r) { return rep(r).cpu_cores; }, fill: true}];
    if (isNum(info.cores)) cpu.push({label: 'cores available', colour: '#5d6675', dash: [5, 4], get: function () { return info.cores; }});
    lineChart(grid, 'CPU', rows, cpu, 'cores');
    lineChart(grid, 'Run queue (waiting for a CPU)', rows, [
      {label: 'time runnable but waiting, all threads (ms per second)', colour: '#8f2d56', get: function (r) { return rep(r).runq_ms; }},
      {label: 'longest waits: p99 of one wait (ms)', colour: '#e66100', get: function (r) { return rep(r).runq_p99_ms; }, dash: [4, 3], axis: 'y2'}
    ], 'ms per second', 'ms');
    lineChart(grid, 'Queue waits before a worker', rows, [
      {label: 'accept-queue wait (ms)', colour: '#e8a33d', get: function (r) { return rep(r).accept_wait_ms; }},
      {label: 'receive-queue wait (ms)', colour: '#1a5fb4', get: function (r) { return rep(r).recv_wait_ms; }},
      {label: 'accept-queue depth (max)', colour: '#5d6675', get: function (r) { return rep(r).accept_queue_max; }, axis: 'y2', dash: [4, 3]}
    ], 'ms per request', 'connections');
    lineChart(grid, 'Workers', rows, [
      {label: 'busy workers', colour: '#7d3c98', get: function (r) { return rep(r).busy_workers; }, fill: true},
      {label: 'workers', colour: '#5d6675', get: function (r) { return rep(r).workers; }, dash: [5, 4], stepped: true}
    ], 'workers');
    offCpuChart(grid, rows, rep);
  }

  function offCpuChart(grid, rows, rep) {
    var keys = [];
    rows.forEach(function (r) {
      Object.keys(obj(rep(r).offcpu_ms)).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    });
    /* bars stay readable up to ~300: longer runs are averaged over buckets of seconds */
    var per = Math.max(1, Math.ceil(rows.length / 300)), buckets = [];
    for (var i = 0; i < rows.length; i += per) buckets.push(rows.slice(i, i + per));
    var c = chartBox('Off-CPU time by reason' + (per > 1 ? ' (average over ' + per + ' windows)' : ''));
    grid.appendChild(c.box);
    if (!keys.length) { c.box.appendChild(notice('No off-CPU data.')); return; }
    if (!chartsOk) return;
    function mean(bucket, k) {
      var sum = 0, n = 0;
      bucket.forEach(function (r) { var v = obj(rep(r).offcpu_ms)[k]; if (isNum(v)) { sum += v; n++; } });
      return n ? sum / n : null;
    }
    new Chart(c.canvas, {
      type: 'bar',
      data: {
        labels: buckets.map(function (b) { return b[0].t; }),
        datasets: keys.map(function (k, j) {
          var p = pick(OFFCPU, k, j);
          return {label: p[0], backgroundColor: p[1], borderWidth: 0, barPercentage: 1, categoryPercentage: 1,
            data: buckets.map(function (b) { return mean(b, k); })};
        })
      },
      options: {scales: {
        x: {stacked: true, title: {display: true, text: 'time (s)'}, ticks: {maxTicksLimit: 16}},
        y: {stacked: true, beginAtZero: true, title: {display: true, text: 'ms off-CPU per second'}}
      }}
    });
  }

  function renderServers() {
    var b = body('servers'), rows = timelineRows(), names = replicaNames(rows);
    var traced = rows.some(function (r) { return Object.keys(obj(r.replicas)).length > 0; });
    if (!names.length || !traced) {
      b.appendChild(notice('No server-side timeline' + (tracingReason() || ' (no replica was traced)') + '.'));
      return;
    }
    names.forEach(function (n) { renderReplica(b, n, rows); });
  }

  /* ---- breakdown ----------------------------------------------------------------------- */

  /* The document may name its components ("components": {key: label}); else our names. */
  function componentInfo(bd, k, i) {
    var p = pick(COMPONENTS, k, i), label = str(obj(bd.components)[k]);
    return [label ? label.charAt(0).toUpperCase() + label.slice(1) : p[0], p[1]];
  }

  function renderBreakdown() {
    var b = body('breakdown'), bd = obj(doc.breakdown);
    var rows = arr(bd.rows).filter(isObj);
    if (!rows.length) {
      b.appendChild(notice('No per-request breakdown: it needs server tracing' + tracingReason() + '.'));
      return;
    }
    var m = obj(bd.by_method);
    b.appendChild(el('p', null, 'Client requests matched to their server spans: ' + fmtInt(bd.matched) + ' of ' +
      fmtInt(bd.requests) + ' (' + fmtPct(bd.matched_fraction) + ')' +
      (isNum(m.request_id) ? ', ' + fmtInt(m.request_id) + ' by request id' : '') +
      (isNum(m.four_tuple) ? ', ' + fmtInt(m.four_tuple) + ' by 4-tuple' : '') +
      '. Each bar averages the requests in that latency band.'));
    var keys = [];
    rows.forEach(function (r) {
      Object.keys(obj(r.components_ms)).forEach(function (k) {
        if (keys.indexOf(k) < 0 && rows.some(function (x) { var v = obj(x.components_ms)[k]; return isNum(v) && v !== 0; })) keys.push(k);
      });
    });
    var c = chartBox('Time per request, by component (ms)', true);
    b.appendChild(c.box);
    if (chartsOk) {
      new Chart(c.canvas, {
        type: 'bar',
        data: {
          labels: rows.map(function (r) { return text(r.label) + ' (' + fmtMs(r.latency_ms) + ' ms)'; }),
          datasets: keys.map(function (k, i) {
            var p = componentInfo(bd, k, i);
            return {label: p[0], backgroundColor: p[1], borderWidth: 0, barPercentage: 0.7,
              data: rows.map(function (r) { var v = obj(r.components_ms)[k]; return isNum(v) ? v : 0; })};
          })
        },
        options: {indexAxis: 'y', interaction: {mode: 'nearest', axis: 'y', intersect: true},
          scales: {x: {stacked: true, beginAtZero: true, title: {display: true, text: 'ms'}}, y: {stacked: true}},
          plugins: {tooltip: {callbacks: {label: function (ctx) { return ctx.dataset.label + ': ' + fmtMs(ctx.parsed.x) + ' ms'; }}}}}
      });
    }
    var counted = rows.some(function (r) { return isNum(r.requests); });
    var cols = [
      {title: 'Band', get: function (r) { return text(r.label); }},
      counted ? {title: 'Requests', num: true, get: function (r) { return fmtInt(r.requests); }} : null,
      {title: 'Latency (ms)', num: true, get: function (r) { return fmtMs(r.latency_ms); }}
    ].filter(Boolean);
    keys.forEach(function (k, i) {
      cols.push({title: componentInfo(bd, k, i)[0], num: true, get: function (r) { return fmtMs(obj(r.components_ms)[k]); }});
    });
    b.appendChild(el('div', {style: 'margin-top:12px'}, table(cols, rows, null, 'compact')));

    /* the same split per replica, over all its requests, when the document has it */
    var reps = obj(bd.replicas), names = Object.keys(reps).filter(function (n) { return isObj(reps[n]); });
    if (names.length) {
      var repCols = cols.slice();
      repCols[0] = {title: 'Replica', get: function (n) { return n; }};
      b.appendChild(el('h3', null, 'By replica (all its matched requests, averaged)'));
      b.appendChild(table(repCols.map(function (c, i) {
        return i === 0 ? c : {title: c.title, num: c.num, get: function (n) { return c.get(reps[n]); }};
      }), names, null, 'compact'));
    }
  }

  /* ---- flame graphs (drawn by loadscope as inline SVG; here only the explanations) ------ */

  function renderFlamegraphs() {
    var b = body('flamegraphs');
    if (b.querySelector('svg')) {
      b.insertBefore(el('p', {class: 'muted'}, 'On-CPU stacks sampled in each replica: width is the share of samples. ' +
        'Hover a frame for its numbers; click to zoom, click "Reset zoom" to go back. Kernel frames are blue.'), b.firstChild);
    } else {
      b.appendChild(notice('No CPU profile was recorded' + (tracingReason() || ' (no samples)') + '.'));
    }
  }

  /* ---- tracing and self-check ---------------------------------------------------------- */

  function renderChecks() {
    var b = body('checks'), t = obj(doc.tracing), sc = obj(doc.self_check);
    b.appendChild(el('h3', null, 'Server tracing'));
    if (t.enabled === true) {
      b.appendChild(kv([
        ['Status', 'on'],
        ['Request spans', fmtInt(t.spans)],
        ['Lost events', fmtInt(t.lost_events), isNum(t.lost_events) && t.lost_events > 0 ? 'bad' : ''],
        ['Window', isNum(t.window_s) ? fmtNum(t.window_s) + ' s' : DASH],
        ['Spans', t.span_sampling ? text(t.span_sampling) : DASH],
        ['Socket hooks', t.socket_hooks ? text(t.socket_hooks) : DASH],
        ['Per-syscall hooks', t.syscall_hooks ? text(t.syscall_hooks) : DASH]
      ]));
      if (isNum(t.lost_events) && t.lost_events > 0)
        b.appendChild(el('p', {class: 'warn'}, fmtInt(t.lost_events) + ' events were lost: server-side numbers undercount.'));
    } else {
      b.appendChild(kv([['Status', 'off'], ['Why', text(t.reason)]]));
      b.appendChild(el('p', {class: 'muted'}, 'Without tracing the report has client-side numbers only: no verdict, breakdown or flame graphs.'));
    }
    var losses = obj(doc.store_losses);
    Object.keys(losses).forEach(function (stream) {
      if (isNum(losses[stream]) && losses[stream] > 0)
        b.appendChild(el('p', {class: 'warn'}, fmtInt(losses[stream]) + ' ' + stream +
          ' rows were not stored (the store\'s writer fell behind): the stored tables and this report undercount.'));
    });
    b.appendChild(el('h3', null, 'Self-check'));
    var rows = timelineRows();
    b.appendChild(kv([
      ['Load generator CPU (peak)', fmtPct(sc.generator_cpu_max)],
      ['Late sends', fmtInt(sc.late_sends)],
      ['Timeline windows', fmtInt(rows.length)]
    ]));
    var warns = arr(sc.warnings).filter(function (w) { return typeof w === 'string'; });
    if (warns.length) warns.forEach(function (w) { b.appendChild(el('p', {class: 'warn'}, w)); });
    else b.appendChild(el('p', {class: 'muted'}, 'No self-check warning.'));
  }

  /* Each section draws on its own: one that fails leaves a note instead of a blank page. */
  [renderHeader, renderVerdict, renderSettings, renderRequests, renderTimeline, renderServers,
    renderBreakdown, renderFlamegraphs, renderChecks].forEach(function (f) {
    try {
      f();
    } catch (e) {
      console.error('loadscope report: ' + f.name + ': ' + e);
      var main = document.querySelector('main');
      main.insertBefore(el('p', {class: 'warn'}, 'Part of this report could not be drawn (' + f.name + '): ' + e), main.firstChild);
    }
  });
  document.documentElement.setAttribute('data-rendered', 'yes');
})();
