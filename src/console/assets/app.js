// Petrel console: a small single-page app over the console's JSON API
// (/api/*). No framework and no build step; every value from the cluster is
// put into the page as text (never as HTML).
'use strict';

const main = document.getElementById('main');
const statusEl = document.getElementById('status');
let timers = [];

// ---- helpers ----

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function say(msg, isError) {
  statusEl.textContent = msg || '';
  statusEl.className = isError ? 'error' : '';
}

async function api(path, body) {
  const opt = body === undefined ? {} : {method: 'POST', headers: {'Content-Type': 'application/json'},
                                          body: JSON.stringify(body)};
  const r = await fetch(path, opt);
  const j = await r.json().catch(() => ({error: 'bad response (' + r.status + ')'}));
  if (!r.ok || j.error) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

function fmtTime(ms) {
  if (!ms) return '-';
  const d = new Date(Number(ms));
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function num(n) { return n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US'); }

function page(title, ...kids) {
  document.title = title + ' - Petrel console';
  main.replaceChildren(h('h1', {}, title), ...kids);
  main.focus();
}

// A table: cols = [{label, key?, num?, render?(row)}]; sortable when opts.sort.
function table(caption, cols, rows, opts = {}) {
  const t = h('table', {});
  if (caption) t.append(h('caption', {}, caption));
  let sortKey = opts.sortKey, desc = opts.desc !== false;
  const head = h('tr', {});
  const body = h('tbody', {});
  const draw = () => {
    let rs = rows.slice();
    if (sortKey) {
      rs.sort((a, b) => {
        const x = a[sortKey] ?? -1, y = b[sortKey] ?? -1;
        return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
      });
    }
    body.replaceChildren(...rs.map((r) => h('tr', {}, cols.map((c) =>
      h('td', {class: c.num ? 'num' : null}, c.render ? c.render(r) : (c.num ? num(r[c.key]) : (r[c.key] ?? '')))))));
    if (!rs.length) body.append(h('tr', {}, h('td', {colspan: cols.length, class: 'muted'}, opts.empty || 'Nothing here.')));
    head.querySelectorAll('th').forEach((th, i) => {
      const c = cols[i];
      if (c.sort) th.setAttribute('aria-sort', c.key === sortKey ? (desc ? 'descending' : 'ascending') : 'none');
    });
  };
  for (const c of cols) {
    const th = h('th', {scope: 'col', class: c.num ? 'num' : null});
    if (c.sort) {
      th.append(h('button', {class: 'sort', type: 'button', onclick: () => {
        if (sortKey === c.key) desc = !desc; else { sortKey = c.key; desc = true; }
        draw();
      }}, c.label));
    } else {
      th.textContent = c.label;
    }
    head.append(th);
  }
  t.append(h('thead', {}, head), body);
  draw();
  return t;
}

function field(label, input) { return h('label', {}, label, input); }

function bodyView(m) {
  const pre = h('pre', {class: 'body'});
  const hasText = typeof m.bodyText === 'string';
  let mode = hasText ? 'text' : 'hex';
  const show = () => {
    pre.textContent = mode === 'text' ? m.bodyText : (m.bodyHex || '').replace(/(..)/g, '$1 ').trim() +
      (m.bodySize > 4096 ? ' …' : '');
  };
  const toggle = h('button', {type: 'button', class: 'secondary', onclick: () => {
    mode = mode === 'text' ? 'hex' : 'text';
    toggle.textContent = mode === 'text' ? 'Show hex' : 'Show text';
    show();
  }}, mode === 'text' ? 'Show hex' : 'Show text');
  if (!hasText) toggle.disabled = true;
  show();
  return h('div', {}, h('div', {}, `Body (${num(m.bodySize)} bytes) `, toggle), pre);
}

function messageDetails(m, extra) {
  const props = Object.entries(m.properties || {}).map(([k, v]) => `${k}=${v}`).join('  ');
  const dl = h('dl', {class: 'kv'});
  for (const [k, v] of [['Message id', m.msgId], ['Client id (UNIQ_KEY)', m.uniqKey || '-'], ['Topic', m.topic],
    ['Broker / queue / offset', `${m.brokerName || '-'} / ${m.queueId} / ${m.queueOffset}`],
    ['Tags', m.tags || '-'], ['Keys', m.keys || '-'], ['Stored', fmtTime(m.storeTimestamp)],
    ['Born', `${fmtTime(m.bornTimestamp)} from ${m.bornHost}`], ['Reconsume times', m.reconsumeTimes],
    ['Properties', props]]) dl.append(h('dt', {}, k), h('dd', {}, String(v)));
  const parts = [dl, bodyView(m)];
  if (m.uniqKey) parts.push(h('p', {}, h('a', {href: '#/trace?msgId=' + encodeURIComponent(m.uniqKey)}, 'Message trace')));
  if (m.consumeState) {
    parts.push(table('Consume state by group', [{label: 'Group', key: 'group'}, {label: 'State', key: 'state'}],
      m.consumeState, {empty: 'No group consumes this topic yet.'}));
  }
  if (extra) parts.push(extra);
  return h('details', {class: 'msg'}, h('summary', {}, `${m.msgId}  ${m.keys ? 'keys=' + m.keys + '  ' : ''}${fmtTime(m.storeTimestamp)}  `,
    h('span', {class: 'preview'}, typeof m.bodyText === 'string' ? m.bodyText.slice(0, 80) : `[${num(m.bodySize)} bytes binary]`)), ...parts);
}

function messageList(msgs, extraFor) {
  if (!msgs.length) return h('p', {class: 'muted'}, 'No messages found.');
  return h('div', {class: 'msgs'}, h('p', {}, `${msgs.length} message(s)`),
    msgs.map((m) => messageDetails(m, extraFor && extraFor(m))));
}

// ---- live chart (SVG) ----

function lineChart(title, series, unit) {
  const W = 600, H = 160, pad = 30;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const all = series.flatMap((s) => s.points.map((p) => p[1]));
  const max = Math.max(1, ...all);
  const t0 = Math.min(...series.flatMap((s) => s.points.map((p) => p[0])), Date.now() - 60000);
  const t1 = Date.now();
  const X = (t) => pad + (W - pad - 4) * (t - t0) / Math.max(1, t1 - t0);
  const Y = (v) => H - 16 - (H - 26) * v / max;
  const ns = (tag, a) => { const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); return e; };
  svg.append(ns('line', {x1: pad, y1: Y(0), x2: W, y2: Y(0), stroke: '#8c959f'}));
  const lbl = ns('text', {x: 2, y: 12, 'font-size': 10, fill: '#57606a'});
  lbl.textContent = num(Math.round(max)) + ' ' + unit;
  svg.append(lbl);
  const desc = [];
  for (const s of series) {
    if (!s.points.length) continue;
    svg.append(ns('polyline', {points: s.points.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' '),
      fill: 'none', stroke: s.color, 'stroke-width': 2}));
    desc.push(`${s.name}: ${num(Math.round(s.points[s.points.length - 1][1]))} ${unit}`);
  }
  svg.setAttribute('aria-label', `${title}. Latest: ${desc.join(', ') || 'no data yet'}`);
  return h('div', {class: 'chart'}, h('h2', {}, title), svg,
    h('div', {class: 'legend'}, series.map((s) => h('span', {}, h('i', {style: `background:${s.color}`}), s.name))));
}

const history = {put: [], get: [], lag: {}, last: null};

async function sample() {
  const c = await api('/api/cluster');
  let put = 0, get = 0;
  for (const b of c.brokers) {
    if (!b.runtime) continue;
    put += Number(b.runtime.msgPutTotalTodayNow || 0);
    get += Number(b.runtime.msgGetTotalTodayNow || 0);
  }
  const now = Date.now();
  if (history.last) {
    const dt = (now - history.last.t) / 1000;
    history.put.push([now, Math.max(0, (put - history.last.put) / dt)]);
    history.get.push([now, Math.max(0, (get - history.last.get) / dt)]);
  }
  history.last = {t: now, put, get};
  const g = await api('/api/groups');
  for (const x of g.groups) {
    if (x.lag === null) continue;
    (history.lag[x.group] = history.lag[x.group] || []).push([now, x.lag]);
  }
  const cut = now - 10 * 60000;
  for (const arr of [history.put, history.get, ...Object.values(history.lag)])
    while (arr.length && arr[0][0] < cut) arr.shift();
  return {c, g};
}

const palette = ['#0b5cad', '#b3261e', '#1a7f37', '#8250df', '#bf8700', '#0a7ea4', '#cf222e', '#57606a'];

async function dashboard() {
  page('Dashboard', h('p', {class: 'muted'}, 'Loading…'));
  const draw = async () => {
    try {
      const {c, g} = await sample();
      const known = g.groups.filter((x) => x.lag !== null);
      const lagTotal = known.length ? num(known.reduce((s, x) => s + x.lag, 0)) : 'unknown';
      const cards = h('div', {class: 'cards'},
        h('div', {class: 'card'}, h('div', {}, 'Brokers'), h('div', {class: 'v'}, c.brokers.length)),
        h('div', {class: 'card'}, h('div', {}, 'Consumer groups'), h('div', {class: 'v'}, g.groups.length)),
        h('div', {class: 'card'}, h('div', {}, 'Total lag'), h('div', {class: 'v', id: 'total-lag'}, lagTotal)),
        h('div', {class: 'card'}, h('div', {}, 'NameServer'), h('div', {}, c.namesrvAddr)));
      const lagSeries = Object.entries(history.lag).slice(0, 8).map(([name, points], i) =>
        ({name, points, color: palette[i % palette.length]}));
      main.replaceChildren(h('h1', {}, 'Dashboard'), cards,
        lineChart('Throughput (messages/s, all brokers)', [
          {name: 'produced', points: history.put, color: palette[0]},
          {name: 'consumed', points: history.get, color: palette[2]}], 'msg/s'),
        lineChart('Consumer lag (messages)', lagSeries, 'msgs'),
        h('p', {class: 'muted'}, 'Updated every 2 s; the last 10 minutes are kept while this page is open.'));
      say('');
    } catch (e) { say(e.message, true); }
  };
  await draw();
  timers.push(setInterval(draw, 2000));
}

// ---- pages ----

async function clusterPage() {
  const c = await api('/api/cluster');
  const keys = ['brokerVersionDesc', 'runtime', 'msgPutTotalTodayNow', 'msgGetTotalTodayNow', 'putTps',
                'getTransferredTps', 'commitLogDiskRatio', 'commitLogMinOffset', 'commitLogMaxOffset',
                'dispatchBehindBytes', 'pageCacheLockTimeMills', 'earliestMessageTimeStamp'];
  page('Cluster',
    h('p', {}, 'NameServer ', h('strong', {}, c.namesrvAddr)),
    table('Brokers', [
      {label: 'Cluster', key: 'cluster'}, {label: 'Broker', key: 'brokerName'},
      {label: 'Id', key: 'brokerId', num: true}, {label: 'Address', key: 'addr'},
      {label: 'Version', render: (b) => (b.runtime || {}).brokerVersionDesc || b.error || '-'},
      {label: 'Put today', num: true, render: (b) => num((b.runtime || {}).msgPutTotalTodayNow)},
      {label: 'Get today', num: true, render: (b) => num((b.runtime || {}).msgGetTotalTodayNow)},
      {label: 'Put TPS', render: (b) => (b.runtime || {}).putTps || '-'}], c.brokers),
    ...c.brokers.map((b) => h('details', {}, h('summary', {}, `Runtime info of ${b.brokerName} (${b.addr})`),
      (() => {
        const dl = h('dl', {class: 'kv'});
        const rt = b.runtime || {};
        const ks = Object.keys(rt).sort((x, y) => (keys.indexOf(y) >= 0) - (keys.indexOf(x) >= 0) || x.localeCompare(y));
        for (const k of ks) dl.append(h('dt', {}, k), h('dd', {}, rt[k]));
        return dl;
      })())));
}

async function topicsPage() {
  const showSys = location.hash.includes('system=1');
  const t = await api('/api/topics');
  const rows = t.topics.filter((x) => showSys || !x.system);
  const name = h('input', {id: 'new-topic', name: 'topic', required: true, pattern: '[A-Za-z0-9_\\-|%]{1,127}', autocomplete: 'off'});
  const rq = h('input', {id: 'new-topic-queues', type: 'number', min: 1, max: 1024, value: 4});
  const perm = h('select', {id: 'new-topic-perm'}, h('option', {value: 6}, 'read + write (6)'),
    h('option', {value: 4}, 'read only (4)'), h('option', {value: 2}, 'write only (2)'));
  const form = h('form', {'aria-label': 'Create or update a topic', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api('/api/topic', {topic: name.value, readQueueNums: Number(rq.value), writeQueueNums: Number(rq.value), perm: Number(perm.value)});
      say(`Topic ${name.value} created/updated.`);
      location.hash = '#/topic/' + encodeURIComponent(name.value);
    } catch (e) { say(e.message, true); }
  }}, field('Topic name', name), field('Queues', rq), field('Permission', perm), h('button', {type: 'submit'}, 'Create / update'));
  page('Topics', form,
    h('p', {}, h('a', {href: showSys ? '#/topics' : '#/topics?system=1'}, showSys ? 'Hide system topics' : 'Show system topics')),
    table(`${rows.length} topic(s)`, [
      {label: 'Topic', key: 'topic', render: (r) => h('a', {href: '#/topic/' + encodeURIComponent(r.topic)}, r.topic)},
      {label: 'Kind', render: (r) => r.system ? 'system' : 'normal'}], rows));
}

async function topicPage(topic) {
  const t = await api('/api/topic?topic=' + encodeURIComponent(topic));
  const tags = h('input', {id: 'send-tags', autocomplete: 'off'});
  const keys = h('input', {id: 'send-keys', autocomplete: 'off'});
  const body = h('textarea', {id: 'send-body'}, 'Hello from the Petrel console');
  const result = h('p', {id: 'send-result', 'aria-live': 'polite'});
  const send = h('form', {'aria-label': 'Send a test message', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('/api/send', {topic, tags: tags.value, keys: keys.value, body: body.value});
      result.replaceChildren('Sent: ', h('a', {href: '#/messages?id=' + r.msgId}, r.msgId),
        ` (broker ${r.brokerName}, queue ${r.queueId}, offset ${r.queueOffset})`);
      say('Message sent.');
    } catch (e) { say(e.message, true); }
  }}, field('Tags', tags), field('Keys', keys), field('Body', body), h('button', {type: 'submit'}, 'Send test message'));
  const del = h('button', {type: 'button', class: 'danger', onclick: async () => {
    if (!confirm(`Delete topic ${topic} from every broker and the NameServer?`)) return;
    try { await api('/api/topic/delete', {topic}); say(`Topic ${topic} deleted.`); location.hash = '#/topics'; }
    catch (e) { say(e.message, true); }
  }}, 'Delete topic');
  const qd = (t.route.queueDatas || []).map((q) => ({...q}));
  const q0 = qd[0] || {readQueueNums: 4, writeQueueNums: 4, perm: 6};
  const uRq = h('input', {id: 'upd-rq', type: 'number', min: 1, max: 1024, value: q0.readQueueNums});
  const uWq = h('input', {id: 'upd-wq', type: 'number', min: 1, max: 1024, value: q0.writeQueueNums});
  const uPerm = h('select', {id: 'upd-perm'}, [[6, 'read + write (6)'], [4, 'read only (4)'], [2, 'write only (2)']].map(([v, l]) =>
    h('option', {value: v, selected: Number(q0.perm) === v}, l)));
  const update = h('form', {'aria-label': 'Update the topic', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api('/api/topic', {topic, readQueueNums: Number(uRq.value), writeQueueNums: Number(uWq.value), perm: Number(uPerm.value)});
      say(`Topic ${topic} updated.`);
      route();
    } catch (e) { say(e.message, true); }
  }}, field('Read queues', uRq), field('Write queues', uWq), field('Permission', uPerm), h('button', {type: 'submit'}, 'Update'));
  page('Topic ' + topic,
    table('Route: queues per broker', [{label: 'Broker', key: 'brokerName'},
      {label: 'Read queues', key: 'readQueueNums', num: true}, {label: 'Write queues', key: 'writeQueueNums', num: true},
      {label: 'Perm', key: 'perm', num: true}], qd),
    table('Queues', [{label: 'Broker', key: 'brokerName'}, {label: 'Queue', key: 'queueId', num: true},
      {label: 'Min offset', key: 'minOffset', num: true}, {label: 'Max offset', key: 'maxOffset', num: true},
      {label: 'Last update', render: (q) => fmtTime(q.lastUpdateTimestamp)}], t.queues),
    h('h2', {}, 'Consumer groups'),
    t.consumerGroups.length ? h('ul', {}, t.consumerGroups.map((g) => h('li', {}, h('a', {href: '#/group/' + encodeURIComponent(g)}, g))))
      : h('p', {class: 'muted'}, 'None yet.'),
    h('h2', {}, 'Send a test message'), send, result,
    h('h2', {}, 'Update'), update,
    h('h2', {}, 'Danger zone'), del);
}

async function groupsPage() {
  const showSys = location.hash.includes('system=1');
  const draw = async () => {
    const g = await api('/api/groups' + (showSys ? '?system=1' : ''));
    const t = table(`${g.groups.length} consumer group(s)`, [
      {label: 'Group', key: 'group', sort: true, render: (r) => h('a', {href: '#/group/' + encodeURIComponent(r.group)}, r.group)},
      {label: 'Lag', key: 'lag', num: true, sort: true, render: (r) => r.lag === null ? 'unknown' : num(r.lag)},
      {label: 'Consume TPS', key: 'tps', num: true, sort: true, render: (r) => r.tps.toFixed(1)},
      {label: 'Clients', key: 'clients', num: true, sort: true}], g.groups, {sortKey: 'lag'});
    t.id = 'groups-table';
    return t;
  };
  const holder = h('div', {}, await draw());
  const live = h('input', {type: 'checkbox', id: 'groups-live', onchange: () => {
    timers.forEach(clearInterval);
    timers = [];
    if (live.checked) timers.push(setInterval(async () => {
      try { holder.replaceChildren(await draw()); } catch (e) { say(e.message, true); }
    }, 3000));
  }});
  page('Consumer groups',
    h('p', {}, h('a', {href: showSys ? '#/groups' : '#/groups?system=1'}, showSys ? 'Hide system groups' : 'Show system groups'),
      ' ', h('button', {type: 'button', class: 'secondary', id: 'groups-refresh', onclick: async () => {
        try { holder.replaceChildren(await draw()); say('Refreshed.'); } catch (e) { say(e.message, true); }
      }}, 'Refresh'), ' ', h('label', {style: 'display:inline-flex;flex-direction:row;gap:4px;color:inherit'}, live, 'refresh every 3 s')),
    h('p', {class: 'muted'}, 'Lag = broker max offset − committed offset, summed over queues; "unknown" when the group committed no offset. TPS comes from the change of the committed offsets between two looks.'),
    holder);
}

async function groupPage(group) {
  const g = await api('/api/group?group=' + encodeURIComponent(group));
  const topics = [...new Set(g.queues.map((q) => q.topic))];
  const topicSel = h('select', {id: 'reset-topic'}, topics.map((t) => h('option', {value: t}, t)));
  const when = h('input', {id: 'reset-time', type: 'datetime-local', step: 1});
  const d = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);
  when.value = d.toISOString().slice(0, 19);
  const reset = h('form', {'aria-label': 'Reset consumer offset by time', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const ts = new Date(when.value).getTime();
      const r = await api('/api/group/reset', {group, topic: topicSel.value, timestamp: ts});
      say(`Offsets reset (${r.mode === 'online' ? 'through the online consumers' : 'written directly, no consumer online'}).`);
      route();
    } catch (e) { say(e.message, true); }
  }}, field('Topic', topicSel), field('Time', when), h('button', {type: 'submit'}, 'Reset offset to time'));
  page('Consumer group ' + group,
    h('div', {class: 'cards'}, h('div', {class: 'card'}, h('div', {}, 'Lag'), h('div', {class: 'v', id: 'group-lag'}, g.lag === null ? 'unknown' : num(g.lag))),
      h('div', {class: 'card'}, h('div', {}, 'Clients'), h('div', {class: 'v'}, g.connections.length))),
    table('Queues', [{label: 'Topic', key: 'topic', sort: true}, {label: 'Broker', key: 'brokerName'},
      {label: 'Queue', key: 'queueId', num: true, sort: true}, {label: 'Broker offset', key: 'brokerOffset', num: true},
      {label: 'Consumer offset', key: 'consumerOffset', num: true}, {label: 'Lag', key: 'lag', num: true, sort: true},
      {label: 'Last consumed message stored', render: (q) => fmtTime(q.lastTimestamp)}], g.queues, {empty: 'No committed offsets.'}),
    table('Connected clients', [{label: 'Client id', key: 'clientId'}, {label: 'Address', key: 'clientAddr'},
      {label: 'Language', key: 'language'}, {label: 'Version', key: 'version', num: true}], g.connections, {empty: 'No consumer online.'}),
    h('h2', {}, 'Reset offset by time'), topics.length ? reset : h('p', {class: 'muted'}, 'No topic with offsets.'),
    h('p', {}, h('a', {href: '#/dlq?group=' + encodeURIComponent(group)}, 'Dead-letter messages of this group')));
}

function params() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}

async function messagesPage() {
  const p = params();
  const out = h('div', {id: 'message-results'});
  const mkForm = (label, inputs, run) => h('form', {'aria-label': label, onsubmit: async (ev) => {
    ev.preventDefault();
    try { say('Searching…'); out.replaceChildren(messageList((await run()).messages)); say(''); }
    catch (e) { say(e.message, true); }
  }}, ...inputs.map(([l, i]) => field(l, i)), h('button', {type: 'submit'}, label));
  const kTopic = h('input', {id: 'key-topic', required: true, value: p.get('topic') || ''});
  const kKey = h('input', {id: 'key-key', required: true, value: p.get('key') || ''});
  const iId = h('input', {id: 'id-id', required: true, size: 34, value: p.get('id') || ''});
  const iTopic = h('input', {id: 'id-topic', placeholder: 'needed for client ids'});
  const tTopic = h('input', {id: 'time-topic', required: true});
  const local = (ms) => new Date(ms - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  const tBegin = h('input', {id: 'time-begin', type: 'datetime-local', step: 1, value: local(Date.now() - 3600000)});
  const tEnd = h('input', {id: 'time-end', type: 'datetime-local', step: 1, value: local(Date.now() + 60000)});
  page('Messages',
    h('h2', {}, 'By key'), mkForm('Search by key', [['Topic', kTopic], ['Key', kKey]],
      () => api(`/api/messages/key?topic=${encodeURIComponent(kTopic.value)}&key=${encodeURIComponent(kKey.value)}`)),
    h('h2', {}, 'By message id'), mkForm('Search by id', [['Message id', iId], ['Topic', iTopic]],
      () => api(`/api/messages/id?id=${encodeURIComponent(iId.value)}` + (iTopic.value ? '&topic=' + encodeURIComponent(iTopic.value) : ''))),
    h('h2', {}, 'By time range'), mkForm('Search by time', [['Topic', tTopic], ['From', tBegin], ['To', tEnd]],
      () => api(`/api/messages/time?topic=${encodeURIComponent(tTopic.value)}&begin=${new Date(tBegin.value).getTime()}&end=${new Date(tEnd.value).getTime()}`)),
    h('h2', {}, 'Results'), out);
  if (p.get('id')) main.querySelectorAll('form')[1].requestSubmit();
  else if (p.get('key') && p.get('topic')) main.querySelectorAll('form')[0].requestSubmit();
}

async function dlqPage() {
  const p = params();
  const group = h('input', {id: 'dlq-group', required: true, value: p.get('group') || ''});
  const out = h('div', {id: 'dlq-results'});
  const load = async () => {
    const r = await api('/api/dlq?group=' + encodeURIComponent(group.value));
    out.replaceChildren(
      h('p', {}, h('a', {href: '/api/dlq/export?group=' + encodeURIComponent(group.value), download: `dlq-${group.value}.ndjson`}, 'Export all as NDJSON')),
      messageList(r.messages, (m) => h('button', {type: 'button', class: 'resend', onclick: async (ev) => {
        try {
          const x = await api('/api/dlq/resend', {group: group.value, msgId: m.msgId});
          ev.target.replaceWith(h('span', {class: 'ok resent'}, `Resent to ${x.topic} as ${x.msgId}`));
          say('Message resent.');
        } catch (e) { say(e.message, true); }
      }}, 'Resend to the group')));
  };
  page('Dead-letter messages',
    h('form', {'aria-label': 'Show dead-letter messages', onsubmit: async (ev) => {
      ev.preventDefault();
      try { await load(); say(''); } catch (e) { say(e.message, true); }
    }}, field('Consumer group', group), h('button', {type: 'submit'}, 'Show')),
    h('p', {class: 'muted'}, 'Messages a group gave up on (%DLQ%group). Resend puts a copy on the group\'s retry topic, so only that group consumes it again.'),
    out);
  if (group.value) { try { await load(); } catch (e) { say(e.message, true); } }
}


async function tracePage() {
  const p = params();
  const id = h('input', {id: 'trace-id', required: true, size: 34, value: p.get('msgId') || ''});
  const topic = h('input', {id: 'trace-topic', value: p.get('traceTopic') || 'RMQ_SYS_TRACE_TOPIC'});
  const out = h('div', {id: 'trace-results'});
  const label = {Pub: 'Sent', SubBefore: 'Delivered to consumer', SubAfter: 'Consumed', EndTransaction: 'Transaction ended'};
  const load = async () => {
    const r = await api(`/api/trace?msgId=${encodeURIComponent(id.value)}&traceTopic=${encodeURIComponent(topic.value)}`);
    const ev = r.events.slice().sort((a, b) => (a.timestamp || 0) - (b.timestamp || 0));
    const pub = ev.find((e) => e.type === 'Pub');
    const groups = [...new Set(ev.filter((e) => e.type !== 'Pub' && e.group).map((e) => e.group))];
    const summary = h('ul', {},
      pub ? h('li', {}, `Sent by ${pub.group} from ${pub.clientHost || '?'} at ${fmtTime(pub.timestamp)} to ${pub.topic}, ` +
        `stored on ${pub.storeHost} in ${pub.costTime} ms (${pub.success ? 'success' : 'FAILED'})`) : h('li', {}, 'No send record (the producer did not enable trace).'),
      groups.map((g) => {
        const after = ev.filter((e) => e.type === 'SubAfter' && e.group === g);
        const ok = after.some((e) => e.success);
        return h('li', {}, `Group ${g}: ${after.length} consume attempt(s), ${ok ? 'consumed' : 'not consumed successfully yet'}` +
          (after.length ? `, last took ${after[after.length - 1].costTime} ms` : ''));
      }));
    out.replaceChildren(h('h2', {}, 'Path'), summary,
      table(`${ev.length} trace record(s)`, [
        {label: 'Event', render: (e) => label[e.type] || e.type},
        {label: 'Time', render: (e) => fmtTime(e.timestamp)},
        {label: 'Group', key: 'group'},
        {label: 'Host', render: (e) => e.storeHost || e.clientHost || ''},
        {label: 'Cost (ms)', key: 'costTime', num: true},
        {label: 'Retry', key: 'retryTimes', num: true},
        {label: 'Result', render: (e) => e.success === undefined ? '' : (e.success ? 'success' : 'failed')}], ev,
        {empty: 'No trace records: trace is off in the clients, or the trace topic differs.'}));
  };
  page('Message trace',
    h('form', {'aria-label': 'Show a message trace', onsubmit: async (ev) => {
      ev.preventDefault();
      try { await load(); say(''); } catch (e) { say(e.message, true); }
    }}, field('Message id (client id / UNIQ_KEY)', id), field('Trace topic', topic), h('button', {type: 'submit'}, 'Show trace')),
    h('p', {class: 'muted'}, 'Producers and consumers with trace enabled write RocketMQ trace records to the trace topic; this page reads them by message id.'),
    out);
  if (id.value) { try { await load(); } catch (e) { say(e.message, true); } }
}

// ---- router ----

async function route() {
  timers.forEach(clearInterval);
  timers = [];
  const hash = location.hash || '#/';
  const path = hash.slice(1).split('?')[0];
  document.querySelectorAll('nav a').forEach((a) => {
    const ap = a.getAttribute('href').slice(1);
    if (ap === path || (ap !== '/' && path.startsWith(ap.replace(/s$/, '')))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  try {
    let m;
    if (path === '/' || path === '') await dashboard();
    else if (path === '/cluster') await clusterPage();
    else if (path === '/topics') await topicsPage();
    else if ((m = path.match(/^\/topic\/(.+)$/))) await topicPage(decodeURIComponent(m[1]));
    else if (path === '/groups') await groupsPage();
    else if ((m = path.match(/^\/group\/(.+)$/))) await groupPage(decodeURIComponent(m[1]));
    else if (path === '/messages') await messagesPage();
    else if (path === '/dlq') await dlqPage();
    else if (path === '/trace') await tracePage();
    else page('Not found', h('p', {}, 'No such page.'));
  } catch (e) {
    page('Error', h('p', {class: 'bad'}, e.message));
  }
}

window.addEventListener('hashchange', () => { say(''); route(); });
route();
