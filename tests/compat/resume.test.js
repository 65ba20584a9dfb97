'use strict';
// (e) A consumer closed half-way commits its offsets; a new consumer of the same group resumes
// from exactly the committed offsets: nothing is lost, and the only duplicates are the messages
// that were in flight when the first consumer closed.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const N = 400;

test('ali-ons: a new consumer resumes from the committed offsets', { timeout: 150000 }, async () => {
  await h.withCluster('resume', async cluster => {
    const topic = h.uniq('T_res');
    const group = h.uniq('CG_res');
    await cluster.createTopic(topic, 4);
    const producer = cluster.producer();
    const msgs = [];
    for (let i = 0; i < N; i++) {
      const m = new h.Message(topic, 'TagA', `res-${i}`);
      m.keys = [ `k${i}` ];
      msgs.push(m);
    }
    const results = await h.sendAll(producer, msgs);
    results.forEach((r, i) => assert.equal(r.sendStatus, 'SEND_OK', `send ${i}`));
    const where = new Map(results.map((r, i) => [ `k${i}`, { q: Number(r.messageQueue.queueId), off: r.queueOffset } ]));

    let closing;
    let c1;
    const col1 = h.collector(async () => {
      if (col1.deliveries.length + 1 === N / 2) closing = cluster.closeClient(c1); // not awaited
    });
    c1 = cluster.consumer({ consumerGroup: group });
    const sent = new Map(); // queueId -> last offset ali-ons committed (UPDATE_CONSUMER_OFFSET)
    const store = c1._offsetStore;
    const orig = store.updateConsumeOffsetToBroker.bind(store);
    store.updateConsumeOffsetToBroker = (mq, off) => { sent.set(mq.queueId, off); return orig(mq, off); };
    await c1.ready();
    c1.subscribe(topic, '*', col1.handler);
    await h.waitFor(() => !!closing, 60000, () => `consumer 1 to reach ${N / 2} messages (has ${col1.deliveries.length})`);
    await closing;

    // The committed offsets, as the broker answers QUERY_CONSUMER_OFFSET once the oneway updates land.
    const committed = new Map();
    await h.waitFor(async () => {
      for (let q = 0; q < 4; q++) committed.set(q, await cluster.consumerOffset(group, topic, q));
      // ali-ons sends an offset of 0 as -1 (`offset || -1`); RocketMQ then answers 0 (queue starts in memory).
      return [ ...sent ].every(([ q, off ]) => committed.get(q) === off || (off === -1 && committed.get(q) <= 0));
    }, 10000, () => `broker offsets ${JSON.stringify([ ...committed ])} to equal the committed ${JSON.stringify([ ...sent ])}`);
    console.log(`# consumer 1 got ${col1.deliveries.length}; committed offsets ${JSON.stringify([ ...committed ])}`);

    const expected = new Set([ ...where ].filter(([ , w ]) => w.off >= Math.max(0, committed.get(w.q))).map(([ k ]) => k));
    const col2 = h.collector();
    const c2 = cluster.consumer({ consumerGroup: group });
    await c2.ready();
    c2.subscribe(topic, '*', col2.handler);
    await h.waitFor(() => [ ...expected ].every(k => col2.byKey.has(k)), 60000,
      () => `consumer 2 to get the ${expected.size} uncommitted messages (has ${col2.unique})`);

    const extra = [ ...col2.byKey.keys() ].filter(k => !expected.has(k));
    assert.deepEqual(extra, [], 'consumer 2 starts exactly at the committed offsets');
    const lost = [ ...where.keys() ].filter(k => !col1.byKey.has(k) && !col2.byKey.has(k));
    assert.deepEqual(lost, [], 'no message lost');
    const dups = [ ...col2.byKey.keys() ].filter(k => col1.byKey.has(k));
    console.log(`# consumer 2 got ${col2.deliveries.length}; duplicates across the handover: ${dups.length}`);
    assert.ok(dups.length <= 4, `duplicates bounded by what was in flight (${dups.length})`);
    for (const [ k, ds ] of col2.byKey) assert.equal(ds[0].body.toString(), `res-${k.slice(1)}`);
  });
});
