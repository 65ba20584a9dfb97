// The console driven in headless Chromium (Debian's chromium + puppeteer-core):
// a real NameServer, broker and `petrel console`; create a topic -> send a test
// message -> find it by key -> watch a consumer group's lag fall to 0 ->
// resend a DLQ message. Screenshots go to $ARTIFACT_DIR (in the build tree).
'use strict';
const {spawn} = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const {Remoting, records} = require('./rmq');

const BIN = process.env.PETREL_BIN || path.resolve(__dirname, '../../build/petrel');
const ART = process.env.ARTIFACT_DIR || path.resolve(__dirname, '../../build/artifacts/console');
const CHROME = process.env.CHROMIUM || '/usr/bin/chromium';
const procs = [];
let failures = 0, passes = 0;

function check(cond, what) {
  if (cond) { passes++; console.log('ok   ' + what); }
  else { failures++; console.log('FAIL ' + what); }
  if (!cond) throw new Error(what);
}

function freePort() {
  return new Promise((res) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function portPair() { // broker: p and p-2 (VIP) free
  for (;;) {
    const p = await freePort();
    if (p < 3000) continue;
    const ok = await new Promise((res) => {
      const s = net.createServer();
      s.once('error', () => res(false));
      s.listen(p - 2, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) return p;
  }
}

function waitPort(port, ms) {
  const end = Date.now() + ms;
  return new Promise((res, rej) => {
    const tryOnce = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); res(); });
      s.once('error', () => { s.destroy(); Date.now() > end ? rej(new Error('port ' + port + ' never opened')) : setTimeout(tryOnce, 50); });
    };
    tryOnce();
  });
}

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await fn()) return; } catch (e) { /* retry */ }
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function run(args, log) {
  const out = fs.openSync(log, 'a');
  const p = spawn(BIN, args, {stdio: ['ignore', out, out]});
  procs.push(p);
  return p;
}

async function stopAll() {
  for (const p of procs.reverse()) {
    if (p.exitCode !== null) continue;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 15000);
    await done;
    clearTimeout(t);
  }
}

async function main() {
  fs.mkdirSync(ART, {recursive: true});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-console-'));
  const nsPort = await freePort(), brPort = await portPair(), uiPort = await freePort();
  run(['namesrv', `--listenPort=${nsPort}`, `--rocketmqHome=${dir}`], path.join(dir, 'namesrv.log'));
  await waitPort(nsPort, 30000);
  run(['broker', `--namesrvAddr=127.0.0.1:${nsPort}`, `--listenPort=${brPort}`, `--storePathRootDir=${dir}/store`,
       '--brokerIP1=127.0.0.1', '--brokerName=broker-a', '--metricsPort=-1', '--mappedFileSizeCommitLog=4194304'],
      path.join(dir, 'broker.log'));
  await waitPort(brPort, 30000);
  run(['console', '-n', `127.0.0.1:${nsPort}`, '--port', String(uiPort)], path.join(dir, 'console.log'));
  await waitPort(uiPort, 30000);
  const base = `http://127.0.0.1:${uiPort}`;
  const getJson = async (p) => (await fetch(base + p)).json();
  await waitFor(async () => (await getJson('/api/cluster')).brokers.length === 1, 30000, 'broker registration');

  const browser = await puppeteer.launch({
    executablePath: CHROME, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           `--user-data-dir=${path.join(dir, 'chromium')}`],
  });
  const consumer = new Remoting(`127.0.0.1:${brPort}`);
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30000);
    await page.setViewport({width: 1200, height: 800});
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const shot = (name) => page.screenshot({path: path.join(ART, name + '.png'), fullPage: true});
    const text = (sel) => page.$eval(sel, (e) => e.textContent);

    // 1. Create a topic.
    await page.goto(base + '/#/topics');
    await page.waitForSelector('#new-topic');
    await page.type('#new-topic', 'ConsoleTopic');
    await page.click('form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('h1').textContent === 'Topic ConsoleTopic', {timeout: 30000});
    check((await page.$$eval('table', (t) => t[1].querySelectorAll('tbody tr').length)) === 4, 'topic created with 4 queues');

    // 2. Send a test message.
    await page.type('#send-keys', 'console-key-1');
    await page.$eval('#send-body', (e) => { e.value = 'hello from chromium'; });
    await page.click('form[aria-label="Send a test message"] button');
    await page.waitForFunction(() => document.querySelector('#send-result').textContent.startsWith('Sent:'), {timeout: 30000});
    const sent = await text('#send-result');
    check(/[0-9A-F]{32}/.test(sent), 'test message sent: ' + sent);
    await shot('topic');

    // 3. Find it by key.
    await page.goto(base + '/#/messages?topic=ConsoleTopic&key=console-key-1');
    await page.waitForSelector('#message-results details', {timeout: 30000});
    await page.click('#message-results details summary');
    const found = await text('#message-results');
    check(found.includes('hello from chromium') && found.includes('console-key-1'), 'message found by key, body shown');
    await shot('messages');

    // 3b. Its trace, as traced clients write it to RMQ_SYS_TRACE_TOPIC (TraceDataEncoder format).
    const msgs = (await getJson('/api/messages/key?topic=ConsoleTopic&key=console-key-1')).messages;
    const m = msgs[0];
    const C = '\u0001', F = '\u0002', now = Date.now();
    const traceBody = ['Pub', now - 50, 'DefaultRegion', 'ConsoleProducer', 'ConsoleTopic', m.uniqKey, '', 'console-key-1',
      m.storeHost, m.bodySize, 3, 0, m.msgId, 'true', '127.0.0.1'].join(C) + F +
      ['SubBefore', now - 20, 'DefaultRegion', 'ConsoleGroup', 'req-1', m.uniqKey, 0, 'console-key-1'].join(C) + F +
      ['SubAfter', 'req-1', m.uniqKey, 7, 'true', 'console-key-1', 0, now - 13].join(C) + F;
    let r = await consumer.send('RMQ_SYS_TRACE_TOPIC', {KEYS: m.uniqKey + ' console-key-1'}, traceBody);
    check(r.code === 0, 'trace record stored');
    await page.goto(base + '/#/trace?msgId=' + m.uniqKey);
    await page.waitForSelector('#trace-results table', {timeout: 30000});
    const tr = await text('#trace-results');
    check(tr.includes('Sent by ConsoleProducer') && tr.includes('Group ConsoleGroup: 1 consume attempt(s), consumed'),
          'trace page shows the sent and consumed path');
    check((await page.$$eval('#trace-results tbody tr', (x) => x.length)) === 3, 'trace page lists 3 records');
    await shot('trace');
    const cli = require('child_process').spawnSync(BIN, ['console', '-n', `127.0.0.1:${nsPort}`,
      '--queryMsgTraceById', m.uniqKey], {encoding: 'utf8', timeout: 30000});
    check(cli.status === 0 && /Pub .*ConsoleProducer/.test(cli.stdout) && /SubAfter .*ConsoleGroup .* 7 .*success/.test(cli.stdout),
          'petrel console --queryMsgTraceById prints the trace');
    fs.writeFileSync(path.join(ART, 'trace.txt'), cli.stdout);

    // 4. A consumer group with lag 1, then consumed: lag falls to 0.
    r = await consumer.call(11, {consumerGroup: 'ConsoleGroup', topic: 'ConsoleTopic', queueId: m.queueId,
      queueOffset: 0, maxMsgNums: 32, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*',
      subVersion: 0, expressionType: 'TAG'});
    check(r.code === 0 && records(r.body).length === 1, 'consumer pulled the message');
    for (let q = 0; q < 4; q++) await consumer.call(15, {consumerGroup: 'ConsoleGroup', topic: 'ConsoleTopic', queueId: q, commitOffset: 0});
    const lagOf = () => page.evaluate(() => {
      for (const tr of document.querySelectorAll('#groups-table tbody tr'))
        if (tr.cells[0].textContent === 'ConsoleGroup') return tr.cells[1].textContent;
      return null;
    });
    await page.goto(base + '/#/groups');
    await page.waitForSelector('#groups-table');
    await waitFor(async () => { await page.click('#groups-refresh'); await new Promise((x) => setTimeout(x, 200)); return (await lagOf()) === '1'; }, 30000, 'lag 1');
    check(true, 'group lag shows 1 before consuming');
    await shot('groups-lag');
    await consumer.call(15, {consumerGroup: 'ConsoleGroup', topic: 'ConsoleTopic', queueId: m.queueId, commitOffset: m.queueOffset + 1});
    await waitFor(async () => { await page.click('#groups-refresh'); await new Promise((x) => setTimeout(x, 200)); return (await lagOf()) === '0'; }, 30000, 'lag 0');
    check(true, 'group lag falls to 0 after the commit');
    const st = (await getJson('/api/messages/key?topic=ConsoleTopic&key=console-key-1')).messages[0].consumeState;
    check(st.some((x) => x.group === 'ConsoleGroup' && x.state === 'CONSUMED'), 'message consume state: CONSUMED by ConsoleGroup');
    await shot('groups');
    await page.goto(base + '/#/group/ConsoleGroup');
    await page.waitForSelector('#group-lag');
    check((await text('#group-lag')) === '0', 'group page shows lag 0');
    await shot('group');

    // 5. The message ends in the DLQ; resend it from the console.
    r = await consumer.call(36, {group: 'ConsoleGroup', offset: m.commitLogOffset, delayLevel: -1, originMsgId: m.msgId,
      originTopic: 'ConsoleTopic', unitMode: 'false', maxReconsumeTimes: 16});
    check(r.code === 0, 'message sent back to the DLQ');
    await page.goto(base + '/#/dlq?group=ConsoleGroup');
    await page.waitForSelector('button.resend', {timeout: 30000});
    check((await text('#dlq-results')).includes('hello from chromium'), 'DLQ page lists the message');
    await page.click('#dlq-results details summary');
    await page.click('button.resend');
    await page.waitForSelector('.resent', {timeout: 30000});
    await shot('dlq');
    r = await consumer.call(30, {topic: '%RETRY%ConsoleGroup', queueId: 0});
    check(r.code === 0 && r.extFields.offset === '1', 'resent message is on %RETRY%ConsoleGroup');

    // 6. Cluster and dashboard pages render.
    await page.goto(base + '/#/cluster');
    await page.waitForFunction(() => document.querySelector('h1').textContent === 'Cluster', {timeout: 30000});
    check((await text('main')).includes('broker-a'), 'cluster page lists broker-a');
    await shot('cluster');
    await page.goto(base + '/#/');
    await page.waitForSelector('svg polyline', {timeout: 30000});
    await new Promise((x) => setTimeout(x, 4500)); // two more samples for the throughput lines
    await shot('dashboard');
    check(pageErrors.length === 0, 'no script errors in the page ' + pageErrors.join('; '));
  } finally {
    consumer.close();
    await browser.close();
    await stopAll();
  }
  fs.rmSync(dir, {recursive: true, force: true});
}

main().then(() => {
  console.log(`${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}, async (e) => {
  console.log('error: ' + (e.stack || e));
  try { fs.writeFileSync(path.join(ART, 'error.txt'), String(e.stack || e) + '\n'); } catch (x) { /* ignore */ }
  await stopAll();
  console.log(`${passes} passed, ${failures + 1} failed`);
  process.exit(1);
});
