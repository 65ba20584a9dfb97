'use strict';
// (g) Durability across broker restarts (SYNC_FLUSH): after a graceful stop (SIGTERM) and after
// kill -9, every acknowledged message is there byte for byte and every committed offset is
// intact. RocketMQ persists consumer offsets every flushConsumerOffsetInterval (set to 1 s here)
// and on shutdown, so before the kill -9 the test waits until consumerOffset.json holds them.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const Q = 4;

test('ali-ons: messages and offsets survive SIGTERM and kill -9 restarts', {
  timeout: 240000, skip: h.mode() === 'external' ? 'needs a broker the harness starts (not PETREL_NAMESRV)' : false,
}, async () => {
  await h.withCluster('restart', async cluster => {
    const topic = h.uniq('T_rst');
    const group = h.uniq('CG_rst');
    await cluster.createTopic(topic, Q);
    const acked = []; // {key, body, q, off}
    const perQueue = () => {
      const n = Array(Q).fill(0);
      for (const a of acked) n[a.q]++;
      return n;
    };

    async function send(n, tag) {
      const producer = cluster.producer();
      const msgs = [];
      for (let i = 0; i < n; i++) {
        const m = new h.Message(topic, tag, Buffer.from(`${tag}-${i}-${'z'.repeat(i % 50)}`));
        m.keys = [ `${tag}-${i}` ];
        msgs.push(m);
      }
      const bodies = msgs.map(m => Buffer.from(m.body));
      const rs = await h.sendAll(producer, msgs);
      rs.forEach((r, i) => {
        assert.equal(r.sendStatus, 'SEND_OK', `${tag} send ${i}`);
        acked.push({ key: `${tag}-${i}`, body: bodies[i], q: Number(r.messageQueue.queueId), off: r.queueOffset });
      });
      await cluster.closeClient(producer);
      return rs;
    }

    /* Consumes with `g` until exactly the keys in `want` arrived; asserts nothing else came. */
    async function consumeExactly(g, want, what) {
      const col = h.collector();
      const c = cluster.consumer({ consumerGroup: g });
      await c.ready();
      c.subscribe(topic, '*', col.handler);
      await h.waitFor(() => want.every(a => col.byKey.has(a.key)), 60000,
        () => `${what}: ${want.length} messages (have ${col.unique})`);
      await cluster.closeClient(c);
      const wanted = new Set(want.map(a => a.key));
      assert.deepEqual([ ...col.byKey.keys() ].filter(k => !wanted.has(k)), [], `${what}: nothing else`);
      for (const a of want) assert.ok(col.byKey.get(a.key)[0].body.equals(a.body), `${what}: body of ${a.key}`);
      console.log(`# ${what}: ${col.deliveries.length} deliveries, ${col.duplicates} duplicates`);
    }

    async function offsets() {
      const o = [];
      for (let q = 0; q < Q; q++) o.push(await cluster.consumerOffset(group, topic, q));
      return o;
    }
    async function assertMaxOffsets(what) {
      const want = perQueue();
      for (let q = 0; q < Q; q++) assert.equal(await cluster.maxOffset(topic, q), want[q], `${what}: max offset q${q}`);
    }
    async function waitCommitted(want, what) {
      let got;
      await h.waitFor(async () => JSON.stringify(got = await offsets()) === JSON.stringify(want), 10000,
        () => `${what}: committed offsets ${JSON.stringify(got)} to be ${JSON.stringify(want)}`);
    }

    // 1. Send, consume everything, commit.
    await send(200, 'one');
    await consumeExactly(group, acked.slice(), 'before restarts');
    await waitCommitted(perQueue(), 'after the first consumer');
    const committed1 = perQueue();

    // 2. More messages, then a graceful restart.
    const before2 = acked.length;
    await send(100, 'two');
    const term = await cluster.stopBroker('SIGTERM');
    console.log(`# broker stopped by SIGTERM: ${JSON.stringify(term)}`);
    await cluster.startBroker();
    assert.deepEqual(await offsets(), committed1, 'committed offsets after SIGTERM restart');
    await assertMaxOffsets('after SIGTERM restart');
    await consumeExactly(group, acked.slice(before2), 'resume after SIGTERM restart');
    await waitCommitted(perQueue(), 'after the second consumer');
    const committed2 = perQueue();

    // 3. Wait for the periodic offset flush, send more (acknowledged = on disk), kill -9.
    await h.waitFor(() => {
      const d = cluster.offsetsOnDisk(group, topic);
      return committed2.every((o, q) => Number(d[q]) === o);
    }, 20000, () => `consumerOffset.json to hold ${JSON.stringify(committed2)} (has ${JSON.stringify(cluster.offsetsOnDisk(group, topic))})`);
    const before3 = acked.length;
    await send(100, 'three');
    const kill = await cluster.stopBroker('SIGKILL');
    console.log(`# broker killed: ${JSON.stringify(kill)}`);
    await cluster.startBroker();
    assert.deepEqual(await offsets(), committed2, 'committed offsets after kill -9 restart');
    await assertMaxOffsets('after kill -9 restart');
    await consumeExactly(group, acked.slice(before3), 'resume after kill -9 restart');
    await consumeExactly(h.uniq('CG_all'), acked.slice(), 'a new group reads everything after kill -9');
  });
});

// The same with clients that stay up: a producer and a push consumer keep running while the broker
// is stopped by SIGTERM and later by kill -9. ali-ons reconnects on its own (a failed pull is
// retried after 3 s). Every acknowledged message reaches the consumer; duplicates (offsets
// committed in memory but not yet flushed at the kill) are counted and printed.
test('ali-ons: live producer and consumer across SIGTERM and kill -9 restarts', {
  timeout: 240000, skip: h.mode() === 'external' ? 'needs a broker the harness starts (not PETREL_NAMESRV)' : false,
}, async () => {
  await h.withCluster('restart-live', async cluster => {
    const topic = h.uniq('T_live');
    const group = h.uniq('CG_live');
    await cluster.createTopic(topic, Q);
    const producer = cluster.producer();
    const col = h.collector();
    const consumer = cluster.consumer({ consumerGroup: group });
    await consumer.ready();
    consumer.subscribe(topic, '*', col.handler);
    await h.waitQueues(consumer, topic, Q);

    const acked = new Map();
    let seq = 0;
    async function sendBatch(n) {
      const msgs = [];
      for (let i = 0; i < n; i++) {
        const k = `m${seq++}`;
        const m = new h.Message(topic, 'TagL', `live ${k}`);
        m.keys = [ k ];
        msgs.push(m);
      }
      const rs = await h.sendAll(producer, msgs);
      rs.forEach((r, i) => { assert.equal(r.sendStatus, 'SEND_OK'); acked.set(msgs[i].keys, r); });
    }
    const allIn = what => h.waitFor(() => [ ...acked.keys() ].every(k => col.byKey.has(k)), 60000,
      () => `${what}: all ${acked.size} acknowledged messages consumed (have ${col.unique})`);

    await sendBatch(100);
    await allIn('before restarts');
    for (const sig of [ 'SIGTERM', 'SIGKILL' ]) {
      await sendBatch(50); // some of these may still be unconsumed when the broker goes down
      await cluster.stopBroker(sig);
      await cluster.startBroker();
      await sendBatch(50);
      await allIn(`after the ${sig} restart`);
    }
    for (const [ k, ds ] of col.byKey) assert.equal(ds[0].body.toString(), `live ${k}`);
    assert.equal(col.unique, acked.size, 'nothing but the acknowledged messages');
    console.log(`# live clients: ${acked.size} acknowledged, ${col.deliveries.length} deliveries, ${col.duplicates} duplicates`);
  });
});
