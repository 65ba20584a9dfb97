'use strict';
/*
 * harness: what the ali-ons interoperability tests share. Starts real NameServer + broker
 * processes on free 127.0.0.1 ports (petrel by default; the reference Java RocketMQ with
 * PETREL_JAVA=<build dir>; or none with PETREL_NAMESRV=host:port), stops them gracefully or
 * with SIGKILL and restarts the broker on the same data dir, and offers a tiny remoting client
 * for the few checks ali-ons cannot make (create topic, committed offsets, raw pull).
 *
 * Environment:
 *   PETREL_BIN       petrel binary (ctest sets it)
 *   PETREL_NAMESRV   use an already running NameServer (restart scenarios are skipped)
 *   PETREL_JAVA      spawn Apache RocketMQ from this build dir (reference-broker/build.sh OUT)
 *   PETREL_DELAY_LEVELS  the external broker's messageDelayLevel (default RocketMQ's)
 *   PETREL_COMPAT_SKIP_SEMANTICS=1  skip retry/delay scenarios (broker lacks them)
 *   PETREL_COMPAT_KEEP=1  keep data dirs and logs; PETREL_COMPAT_VERBOSE=1 ali-ons logs
 *   PETREL_COMPAT_TRACE=<file>  write every frame ali-ons sends and receives (headers, body sizes)
 *   (the last frames are always kept and printed when a scenario fails)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const cp = require('node:child_process');

let ons;
try {
  ons = require('ali-ons');
} catch (err) {
  throw new Error('ali-ons is not installed (tests/compat/node_modules is missing or broken): ' +
    'run scripts/deps.sh (it runs `npm ci` in tests/compat) and re-run. Cause: ' + err.message);
}

// Wire trace: ali-ons' frame encoder and decoder, wrapped; a ring of recent frames + optional file.
const wire = [];
const traceFile = process.env.PETREL_COMPAT_TRACE;
function traceFrame(dir, cmd) {
  const body = cmd.body ? cmd.body.length : 0;
  const line = `${new Date().toISOString().slice(11)} ${dir} code=${cmd.code} opaque=${cmd.opaque} flag=${cmd.flag}` +
    `${cmd.remark ? ` remark=${JSON.stringify(String(cmd.remark).slice(0, 300))}` : ''}` +
    ` ext=${JSON.stringify(cmd.extFields || {})} body=${body}` +
    (body && body <= 512 && cmd.code !== 11 ? ` ${JSON.stringify(cmd.body.toString('latin1'))}` : '');
  wire.push(line);
  if (wire.length > 400) wire.splice(0, wire.length - 400);
  if (traceFile) fs.appendFileSync(traceFile, line + '\n');
}
{
  const RC = require('ali-ons/lib/protocol/command/remoting_command');
  const encode = RC.prototype.encode;
  RC.prototype.encode = function() { const b = encode.call(this); traceFrame('>', this); return b; };
  const decode = RC.decode;
  RC.decode = function(packet) { const c = decode.call(RC, packet); traceFrame('<', c); return c; };
}

const VERBOSE = process.env.PETREL_COMPAT_VERBOSE === '1';
const KEEP = process.env.PETREL_COMPAT_KEEP === '1';
const DEFAULT_LEVELS = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';
// Levels used for brokers we start: short, level 2 differs from level 1 so the mapping shows.
const FAST_LEVELS = '1s 2s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s';

const sleep = ms => new Promise(r => setTimeout(r, ms));

function parseLevels(s) {
  const unit = { s: 1000, m: 60000, h: 3600000, d: 86400000 };
  return s.trim().split(/\s+/).map(x => Number(x.slice(0, -1)) * unit[x.slice(-1)]);
}

// Bounds scale with $PETREL_TEST_TIMEOUT_SCALE (as tests/testutil.h), and 3x for the JVM reference.
const SCALE = Number(process.env.PETREL_TEST_TIMEOUT_SCALE || 1) * (process.env.PETREL_JAVA ? 3 : 1);

/* Polls cond() until truthy or timeoutMs (scaled); throws with describe() on timeout. */
async function waitFor(cond, timeoutMs, describe) {
  timeoutMs *= SCALE;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) {
      const what = typeof describe === 'function' ? describe() : describe;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(25);
  }
}

// ---- ports and processes ----------------------------------------------------------------------

function tryListen(port) {
  return new Promise(resolve => {
    const s = net.createServer();
    s.once('error', () => resolve(-1));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/*
 * A port that was free a moment ago, with port-2 and port+1 free too (broker VIP/HA ports).
 * Chosen below the kernel's ephemeral range, so that no outgoing connection can take it while
 * a broker is down between a kill and a restart.
 */
function ephemeralLow() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch (_) { return 32768; }
}
async function freePort() {
  const hi = Math.min(ephemeralLow(), 65000) - 2;
  const lo = Math.max(10000, hi - 20000);
  for (let i = 0; i < 200; i++) {
    const p = lo + 2 + Math.floor(Math.random() * (hi - lo - 2));
    if (await tryListen(p) > 0 && await tryListen(p - 2) > 0 && await tryListen(p + 1) > 0) return p;
  }
  throw new Error('no free port triple found');
}

function canConnect(port) {
  return new Promise(resolve => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const started = new Set(); // child processes this harness started (killed on exit, by pid)
process.on('exit', () => {
  for (const c of started) {
    if (c.pid > 0) try { process.kill(c.pid, 'SIGKILL'); } catch (_) { /* gone */ }
  }
});

class Proc {
  constructor(name, cmd, args, logPath, env) {
    Object.assign(this, { name, cmd, args, logPath, env });
    this.child = null;
  }

  start() {
    const fd = fs.openSync(this.logPath, 'a');
    const cmdline = `${this.cmd} ${this.args.filter(a => !a.includes('.jar:')).join(' ')}`;
    fs.writeSync(fd, `\n=== ${new Date().toISOString()} start: ${cmdline}\n`);
    this.child = cp.spawn(this.cmd, this.args, {
      stdio: [ 'ignore', fd, fd ], env: Object.assign({}, process.env, this.env || {}),
    });
    fs.closeSync(fd);
    const child = this.child;
    started.add(child);
    child.exited = new Promise(resolve => child.once('exit', (code, sig) => {
      started.delete(child);
      child.exitInfo = { code, sig };
      resolve(child.exitInfo);
    }));
    child.once('error', err => { child.spawnError = err; });
  }

  get running() { return !!(this.child && !this.child.exitInfo); }

  /* Sends sig to the pid we started and waits for the exit; SIGKILL after timeoutMs. */
  async stop(sig = 'SIGTERM', timeoutMs = 20000) {
    const child = this.child;
    if (!child || child.exitInfo) return child && child.exitInfo;
    if (!(child.pid > 0)) throw new Error(`${this.name}: no pid to signal`); // never kill(0/-1)
    process.kill(child.pid, sig);
    const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (_) { /* gone */ } },
      timeoutMs);
    const info = await child.exited;
    clearTimeout(t);
    return info;
  }

  tail(lines = 40) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch (_) { return '(no log)'; }
  }
}

// ---- a tiny remoting client (JSON headers, one connection per request) ------------------------

let opaqueSeq = 1;
function request(addr, code, extFields, body, timeoutMs = 5000) {
  const [ host, port ] = addr.split(':');
  const opaque = opaqueSeq++;
  const fields = {};
  for (const k of Object.keys(extFields || {})) {
    if (extFields[k] !== undefined && extFields[k] !== null) fields[k] = String(extFields[k]);
  }
  const header = Buffer.from(JSON.stringify({
    code, language: 'JAVA', version: 395, opaque, flag: 0, extFields: fields,
    serializeTypeCurrentRPC: 'JSON',
  }));
  const b = body ? Buffer.from(body) : Buffer.alloc(0);
  const frame = Buffer.alloc(8 + header.length + b.length);
  frame.writeInt32BE(4 + header.length + b.length, 0);
  frame.writeInt32BE(header.length, 4); // serialize type 0 (JSON) in the top byte
  header.copy(frame, 8);
  b.copy(frame, 8 + header.length);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port) });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`request ${code} to ${addr}: timeout`)); },
      timeoutMs);
    s.once('error', err => { clearTimeout(timer); reject(err); });
    s.on('connect', () => s.write(frame));
    s.on('data', d => {
      buf = Buffer.concat([ buf, d ]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const total = buf.readInt32BE(0);
        const type = buf[4];
        const hlen = buf.readInt32BE(4) & 0xffffff;
        const frameBuf = buf.subarray(0, 4 + total);
        buf = buf.subarray(4 + total);
        if (type !== 0) {
          clearTimeout(timer); s.destroy();
          return reject(new Error(`request ${code}: reply serialize type ${type}, expected JSON (0)`));
        }
        const h = JSON.parse(frameBuf.subarray(8, 8 + hlen).toString());
        if (h.opaque !== opaque || !(h.flag & 1)) continue; // server requests, other replies
        clearTimeout(timer); s.destroy();
        return resolve({ code: h.code, remark: h.remark, ext: h.extFields || {},
          body: frameBuf.subarray(8 + hlen) });
      }
    });
  });
}

/* fastjson writes maps with bare numeric keys ({0:1}); make that JSON. */
function lenientJson(text) {
  return JSON.parse(text.replace(/([{,])\s*(-?\d+)\s*:/g, '$1"$2":'));
}

/* Decodes a PULL_MESSAGE body (v1 MessageExt records) into {queueId, queueOffset, sysFlag,
 * commitLogOffset, topic, properties, body}. */
function decodeRecords(buf) {
  const out = [];
  let p = 0;
  while (p + 4 <= buf.length) {
    const size = buf.readInt32BE(p);
    const r = { size, queueId: buf.readInt32BE(p + 12), flag: buf.readInt32BE(p + 16),
      queueOffset: Number(buf.readBigInt64BE(p + 20)), commitLogOffset: Number(buf.readBigInt64BE(p + 28)),
      sysFlag: buf.readInt32BE(p + 36), reconsumeTimes: buf.readInt32BE(p + 72) };
    let q = p + 84;
    const bodyLen = buf.readInt32BE(q); q += 4;
    r.body = buf.subarray(q, q + bodyLen); q += bodyLen;
    const tlen = buf[q]; q += 1;
    r.topic = buf.subarray(q, q + tlen).toString(); q += tlen;
    const plen = buf.readUInt16BE(q); q += 2;
    r.properties = {};
    for (const kv of buf.subarray(q, q + plen).toString().split('\u0002')) {
      const i = kv.indexOf('\u0001');
      if (i > 0) r.properties[kv.slice(0, i)] = kv.slice(i + 1);
    }
    out.push(r);
    p += size;
  }
  return out;
}

// ---- clusters ---------------------------------------------------------------------------------

function mode() {
  if (process.env.PETREL_NAMESRV) return 'external';
  if (process.env.PETREL_JAVA) return 'java';
  return 'petrel';
}

let helpConfig; // keys `petrel broker --help-config` lists (null: unknown)
function petrelKnowsKey(bin, key) {
  if (helpConfig === undefined) {
    const r = cp.spawnSync(bin, [ 'broker', '--help-config' ], { encoding: 'utf8', timeout: 10000 });
    helpConfig = r.status === 0 && r.stdout ? r.stdout : null;
  }
  return helpConfig === null ? true : new RegExp(`(^|\\W)${key}(\\W|$)`, 'm').test(helpConfig);
}

class Cluster {
  /*
   * opts.brokerConfig: extra broker keys (RocketMQ names); opts.optionalConfig: keys passed to
   * petrel only when its --help-config lists them (so a missing optional key does not abort).
   */
  constructor(name, opts = {}) {
    this.name = name;
    this.mode = mode();
    this.opts = opts;
    this.canRestart = this.mode !== 'external';
    this.clients = new Set();
    this.delayLevelsMs = parseLevels(this.mode === 'external'
      ? (process.env.PETREL_DELAY_LEVELS || DEFAULT_LEVELS) : FAST_LEVELS);
  }

  async start() {
    if (this.mode === 'external') {
      this.namesrvAddr = process.env.PETREL_NAMESRV;
      this.brokerAddr = await this.findBrokerAddr(10000);
      return this;
    }
    const root = process.env.PETREL_COMPAT_WORKDIR || os.tmpdir();
    fs.mkdirSync(root, { recursive: true });
    this.dir = fs.mkdtempSync(path.join(root, `compat-${this.name}-`));
    this.storeDir = path.join(this.dir, 'store');
    fs.mkdirSync(this.storeDir, { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'home'), { recursive: true });
    this.nsPort = await freePort();
    this.brokerPort = await freePort();
    this.namesrvAddr = `127.0.0.1:${this.nsPort}`;
    this.brokerAddr = `127.0.0.1:${this.brokerPort}`;

    const brokerCfg = Object.assign({
      brokerClusterName: 'DefaultCluster',
      brokerName: 'broker-a',
      brokerId: 0,
      brokerIP1: '127.0.0.1',
      listenPort: this.brokerPort,
      namesrvAddr: this.namesrvAddr,
      storePathRootDir: this.storeDir,
      flushDiskType: 'SYNC_FLUSH',
      autoCreateTopicEnable: 'true',
    }, this.opts.brokerConfig || {});
    const optional = Object.assign({ messageDelayLevel: FAST_LEVELS, flushConsumerOffsetInterval: 1000 },
      this.opts.optionalConfig || {});

    if (this.mode === 'petrel') {
      const bin = process.env.PETREL_BIN;
      if (!bin || !fs.existsSync(bin)) {
        throw new Error(`PETREL_BIN (${bin}) is not an executable petrel binary; build first (make build)`);
      }
      for (const k of Object.keys(optional)) {
        if (petrelKnowsKey(bin, k)) brokerCfg[k] = optional[k];
        else console.log(`# petrel broker does not list config key ${k}; not passed`);
      }
      this.namesrv = new Proc('namesrv', bin, [ 'namesrv', `--listenPort=${this.nsPort}`,
        `--rocketmqHome=${path.join(this.dir, 'home')}` ], path.join(this.dir, 'namesrv.log'));
      this.broker = new Proc('broker', bin, [ 'broker',
        ...Object.entries(brokerCfg).map(([ k, v ]) => `--${k}=${v}`) ], path.join(this.dir, 'broker.log'));
    } else {
      Object.assign(brokerCfg, optional);
      const jdir = process.env.PETREL_JAVA;
      const cpath = fs.readFileSync(path.join(jdir, 'classpath'), 'utf8').trim();
      const home = path.join(this.dir, 'home');
      fs.writeFileSync(path.join(this.dir, 'namesrv.conf'), [ `listenPort=${this.nsPort}`,
        `rocketmqHome=${jdir}`, `kvConfigPath=${home}/namesrv/kvConfig.json`,
        `configStorePath=${home}/namesrv/namesrv.properties` ].join('\n') + '\n');
      brokerCfg.rocketmqHome = jdir;
      brokerCfg.storePathCommitLog = path.join(this.storeDir, 'commitlog');
      fs.writeFileSync(path.join(this.dir, 'broker.conf'),
        Object.entries(brokerCfg).map(([ k, v ]) => `${k}=${v}`).join('\n') + '\n');
      const jvm = [ '--add-exports', 'java.base/sun.nio.ch=ALL-UNNAMED',
        '--add-opens', 'java.base/sun.nio.ch=ALL-UNNAMED', '--add-opens', 'java.base/java.nio=ALL-UNNAMED',
        '--add-opens', 'java.base/jdk.internal.ref=ALL-UNNAMED', '--add-opens', 'java.base/java.lang=ALL-UNNAMED',
        '--add-opens', 'java.base/java.util=ALL-UNNAMED', '--add-opens', 'java.base/jdk.internal.misc=ALL-UNNAMED',
        '-Dio.netty.tryReflectionSetAccessible=true', '-XX:+UseG1GC', '-XX:-OmitStackTraceInFastThrow',
        `-Duser.home=${home}`, `-Drocketmq.home.dir=${jdir}`, '-cp', cpath ];
      this.namesrv = new Proc('namesrv', 'java', [ '-Xms256m', '-Xmx256m', ...jvm,
        'org.apache.rocketmq.namesrv.NamesrvStartup', '-c', path.join(this.dir, 'namesrv.conf') ],
      path.join(this.dir, 'namesrv.log'));
      this.broker = new Proc('broker', 'java', [ '-Xms512m', '-Xmx512m', ...jvm,
        'org.apache.rocketmq.broker.BrokerStartup', '-c', path.join(this.dir, 'broker.conf') ],
      path.join(this.dir, 'broker.log'));
    }
    this.namesrv.start();
    await this.waitUp(this.namesrv, this.nsPort, 30000);
    await this.startBroker();
    return this;
  }

  async waitUp(proc, port, timeoutMs) {
    await waitFor(async () => {
      if (!proc.running) {
        throw new Error(`${proc.name} exited (${JSON.stringify(proc.child.exitInfo || proc.child.spawnError)}):\n` +
          proc.tail());
      }
      return canConnect(port);
    }, timeoutMs, `${proc.name} to accept on port ${port}`);
  }

  /* Starts (or restarts) the broker on the same data dir; waits until it serves and is routed. */
  async startBroker() {
    this.broker.start();
    await this.waitUp(this.broker, this.brokerPort, 60000);
    await this.findBrokerAddr(30000);
  }

  /* sig 'SIGTERM' (graceful) or 'SIGKILL'. */
  async stopBroker(sig = 'SIGTERM') {
    const info = await this.broker.stop(sig);
    if (sig === 'SIGTERM') this.checkCleanExit(this.broker, info);
    return info;
  }

  /* petrel must exit 0 on SIGTERM, with no sanitizer report in its log (ASan/UBSan builds). */
  checkCleanExit(proc, info) {
    if (this.mode !== 'petrel') return;
    const log = fs.readFileSync(proc.logPath, 'utf8');
    const san = log.match(/^.*(ERROR: (Address|Leak)Sanitizer|runtime error:).*$/m);
    if (san || !info || info.code !== 0) {
      throw new Error(`${proc.name} did not stop cleanly on SIGTERM (${JSON.stringify(info)})` +
        `${san ? `: ${san[0]}` : ''}\n${proc.tail(60)}`);
    }
  }

  /* Waits until the NameServer routes TBW102 (or the cluster info) to a master; returns its address. */
  async findBrokerAddr(timeoutMs) {
    let last = '';
    return waitFor(async () => {
      try {
        const r = await request(this.namesrvAddr, 105, { topic: 'TBW102' });
        if (r.code === 0) {
          const route = lenientJson(r.body.toString());
          const addrs = route.brokerDatas.map(b => b.brokerAddrs['0']).filter(Boolean);
          if (this.brokerAddr && addrs.includes(this.brokerAddr)) return this.brokerAddr;
          if (!this.brokerAddr && addrs.length) return addrs[0];
        }
        last = `105 TBW102 -> ${r.code} ${r.remark || ''}`;
        const c = await request(this.namesrvAddr, 106, {});
        if (c.code === 0 && this.brokerAddr && c.body.toString().includes(`"${this.brokerAddr}"`)) {
          return this.brokerAddr;
        }
        last += `; 106 -> ${c.code} ${c.remark || ''}`;
      } catch (err) { last = err.message; }
      return null;
    }, timeoutMs, () => `the NameServer ${this.namesrvAddr} to route a broker (${last})`);
  }

  /* UPDATE_AND_CREATE_TOPIC on the broker, then wait for the NameServer route. */
  async createTopic(topic, queues = 4) {
    const r = await request(this.brokerAddr, 17, { topic, defaultTopic: 'TBW102', readQueueNums: queues,
      writeQueueNums: queues, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
    if (r.code !== 0) throw new Error(`UPDATE_AND_CREATE_TOPIC ${topic}: code ${r.code} ${r.remark}`);
    await this.waitRoute(topic, queues);
  }

  async waitRoute(topic, queues) {
    let last = '';
    await waitFor(async () => {
      const r = await request(this.namesrvAddr, 105, { topic });
      last = `${r.code} ${r.remark || r.body.toString()}`;
      if (r.code !== 0) return false;
      const route = lenientJson(r.body.toString());
      return route.queueDatas.some(q => q.readQueueNums === queues && q.writeQueueNums === queues);
    }, 15000, () => `a route for ${topic} with ${queues} queues (last: ${last})`);
  }

  async consumerOffset(group, topic, queueId) {
    const r = await request(this.brokerAddr, 14, { consumerGroup: group, topic, queueId });
    if (r.code === 22) return -1;
    if (r.code !== 0) throw new Error(`QUERY_CONSUMER_OFFSET: ${r.code} ${r.remark}`);
    return Number(r.ext.offset);
  }

  async maxOffset(topic, queueId) {
    const r = await request(this.brokerAddr, 30, { topic, queueId });
    if (r.code !== 0) throw new Error(`GET_MAX_OFFSET: ${r.code} ${r.remark}`);
    return Number(r.ext.offset);
  }

  /* One PULL_MESSAGE with the subscription in the request (sysFlag 4: no consumer registration
   * needed) and without suspend; returns {code, remark, ext, records}. */
  async pull(group, topic, queueId, offset, subscription, maxMsgNums = 32) {
    const r = await request(this.brokerAddr, 11, { consumerGroup: group, topic, queueId, queueOffset: offset,
      maxMsgNums, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0,
      subscription: subscription || '*', subVersion: Date.now() });
    return { code: r.code, remark: r.remark, ext: r.ext, records: r.code === 0 ? decodeRecords(r.body) : [] };
  }

  /* consumerOffset.json as the broker last wrote it ({} if absent). */
  offsetsOnDisk(group, topic) {
    try {
      const j = lenientJson(fs.readFileSync(path.join(this.storeDir, 'config', 'consumerOffset.json'), 'utf8'));
      return (j.offsetTable && j.offsetTable[`${topic}@${group}`]) || {};
    } catch (_) { return {}; }
  }

  /* ali-ons' process-wide inner producer (used for retry fallbacks); made here so that its
   * errors (e.g. the routine TOPIC_NOT_EXIST for %RETRY% routes) go to our log, not stderr. */
  innerProducer() {
    if (ons.Producer.defaultProducer) return;
    const p = new ons.Producer(Object.assign(clientBase(this), { producerGroup: 'CLIENT_INNER_PRODUCER' }));
    p.on('error', err => clientError('inner producer', err));
    ons.Producer.defaultProducer = p;
  }

  producer(opts = {}) {
    this.innerProducer();
    const p = new ons.Producer(Object.assign(clientBase(this), { producerGroup: uniq('PG') }, opts));
    p.on('error', err => clientError('producer', err));
    this.clients.add(p);
    return p;
  }

  /* A push consumer; a new group reads from the first offset. */
  consumer(opts = {}) {
    this.innerProducer();
    const c = new ons.Consumer(Object.assign(clientBase(this), {
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    }, opts));
    c.on('error', err => clientError('consumer', err));
    this.clients.add(c);
    return c;
  }

  async closeClient(c) {
    if (!this.clients.has(c)) return;
    this.clients.delete(c);
    await c.close();
  }

  async closeClients() {
    for (const c of Array.from(this.clients)) {
      try { await this.closeClient(c); } catch (err) { console.log(`# close: ${err.message}`); }
    }
    const dp = ons.Producer.defaultProducer; // ali-ons' process-wide inner producer
    if (dp) {
      ons.Producer.defaultProducer = null;
      try { await dp.close(); } catch (_) { /* ignore */ }
    }
  }

  /* Closes clients and processes; keeps the data dir and prints log tails when failed. */
  async close(failed) {
    await this.closeClients();
    if (this.mode === 'external') return;
    let unclean = null;
    for (const p of [ this.broker, this.namesrv ]) {
      if (!p || !p.running) continue;
      const info = await p.stop('SIGTERM', 15000);
      try { this.checkCleanExit(p, info); } catch (err) { unclean = unclean || err; }
    }
    if (unclean && !failed) failed = true;
    if (failed) {
      console.log(`# data and logs kept in ${this.dir}\n# broker log tail:\n${this.broker.tail()}`);
    } else if (!KEEP) {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
    if (unclean) throw unclean;
  }
}

let uniqSeq = 0;
function uniq(prefix) {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${uniqSeq++}`;
}

const quietLogger = {
  info: (...a) => { if (VERBOSE) console.log('# [ons info]', ...a); },
  debug: (...a) => { if (VERBOSE) console.log('# [ons debug]', ...a); },
  warn: (...a) => { if (VERBOSE) console.log('# [ons warn]', ...a); },
  error: (...a) => { if (VERBOSE) console.log('# [ons error]', ...a); },
};

const clientErrors = [];
function clientError(who, err) {
  clientErrors.push(`${who}: ${err.name} ${err.message}`);
  if (VERBOSE) console.log(`# [ons ${who} error] ${err.name} ${err.message}`);
}

function clientBase(cluster) {
  return {
    nameSrv: cluster.namesrvAddr,
    // ali-ons asserts an http client for its Aliyun address lookup, unused with nameSrv.
    httpclient: { request() { throw new Error('no http'); } },
    instanceName: uniq('I'),
    logger: quietLogger,
    // Short periods: routes and rebalances settle fast, and closed clients' timers end soon
    // (ali-ons' scheduled tasks sleep a full period before noticing the close).
    pollNameServerInteval: 1000, heartbeatBrokerInterval: 1000, rebalanceInterval: 1000,
    persistConsumerOffsetInterval: 1000,
  };
}

/* Starts a cluster, runs fn(cluster) and always cleans up; prints diagnostics on failure. */
async function withCluster(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  const cluster = new Cluster(name, opts);
  let failed = true;
  try {
    await cluster.start();
    await fn(cluster);
    failed = false;
  } finally {
    if (failed && clientErrors.length) {
      console.log('# ali-ons errors (last 20):\n# ' + clientErrors.slice(-20).join('\n# '));
    }
    if (failed) console.log('# last frames ali-ons sent (>) and received (<):\n# ' + wire.slice(-60).join('\n# '));
    try {
      await cluster.close(failed);
    } catch (err) {
      if (!failed) throw err; // an unclean stop fails a passing scenario ...
      console.log(`# also: ${err.message}`); // ... but must not hide the first failure
    }
  }
}

/*
 * A handler that records every delivery. got: key -> [deliveries]. Each delivery keeps what the
 * tests compare: body, tags, keys, msgId, queue, offsets, reconsumeTimes, properties, time.
 */
function collector(onMessage) {
  const col = {
    deliveries: [],
    byKey: new Map(),
    get unique() { return this.byKey.size; },
    get duplicates() { return this.deliveries.length - this.byKey.size; },
    handler: async msg => {
      const d = { at: Date.now(), key: msg.keys, tags: msg.tags, body: msg.body, msgId: msg.msgId,
        topic: msg.topic, queueId: msg.queueId, queueOffset: msg.queueOffset,
        commitLogOffset: msg.commitLogOffset, reconsumeTimes: msg.reconsumeTimes,
        bornTimestamp: msg.bornTimestamp, storeTimestamp: msg.storeTimestamp, storeHost: msg.storeHost,
        properties: Object.assign({}, msg.properties), originMessageId: msg.originMessageId };
      if (onMessage) await onMessage(d, msg);
      col.deliveries.push(d);
      if (!col.byKey.has(d.key)) col.byKey.set(d.key, []);
      col.byKey.get(d.key).push(d);
    },
  };
  return col;
}

/*
 * Sends msgs (array of ons.Message) with `concurrency` sends in flight; returns results in order.
 * A send refused with 2 SYSTEM_BUSY (RocketMQ's flow control; nothing stored) is tried again:
 * the Java client retries it, ali-ons throws. sendAll.busy counts those refusals.
 */
async function sendAll(producer, msgs, concurrency = 4) {
  const results = new Array(msgs.length);
  let next = 0;
  async function worker() {
    while (next < msgs.length) {
      const i = next++;
      const body = msgs[i].body; // ali-ons replaces it with the deflated one: resend the original
      for (let attempt = 1; ; attempt++) {
        msgs[i].body = body;
        try {
          results[i] = await producer.send(msgs[i]);
          break;
        } catch (err) {
          if (err.code !== 2 || attempt >= 20) throw err;
          sendAll.busy++;
          await sleep(50 * attempt);
        }
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/* Waits until the consumer owns exactly n queues of topic (its rebalance has settled). */
function waitQueues(consumer, topic, n, timeoutMs = 20000) {
  const count = () => Array.from(consumer.processQueueTable.values())
    .filter(v => v.messageQueue.topic === topic).length;
  return waitFor(() => count() === n, timeoutMs, () => `consumer to own ${n} queues of ${topic} (has ${count()})`);
}

sendAll.busy = 0;

module.exports = {
  ons, Message: ons.Message, Cluster, withCluster, collector, sendAll, waitFor, waitQueues, sleep, uniq,
  request, decodeRecords, lenientJson, freePort, mode,
  skipSemantics: process.env.PETREL_COMPAT_SKIP_SEMANTICS === '1',
};
