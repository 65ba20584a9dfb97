'use strict';
// (a) 500 synchronous sends with tags and keys: every one SEND_OK with an offset msgId naming the
// broker, queue offsets contiguous per queue; then one consumer reads them all back unchanged,
// with the msgId it computes equal to the one the send returned.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const N = 500;

test('ali-ons: 500 sync sends with tags and keys, read back exactly', { timeout: 150000 }, async () => {
  await h.withCluster('send', async cluster => {
    const topic = h.uniq('T_send');
    await cluster.createTopic(topic, 4);
    const producer = cluster.producer();
    await producer.ready();

    const bodies = [];
    const msgs = [];
    for (let i = 0; i < N; i++) {
      const body = `send-${i}-` + 'x'.repeat(i % 97);
      bodies.push(body);
      const m = new h.Message(topic, i % 2 ? 'TagB' : 'TagA', body);
      m.keys = [ `k${i}`, `alt${i}` ];
      msgs.push(m);
    }
    const results = await h.sendAll(producer, msgs, 4);

    const perQueue = new Map();
    const ids = new Set();
    results.forEach((r, i) => {
      assert.equal(r.sendStatus, 'SEND_OK', `send ${i}`);
      assert.match(r.msgId, /^[0-9A-F]{32}$/i, `send ${i} msgId`);
      ids.add(r.msgId.toUpperCase());
      const decoded = require('ali-ons/lib/message/message_decoder').decodeMessageId(r.msgId);
      assert.equal(decoded.address, cluster.brokerAddr, `msgId ${r.msgId} names the broker`);
      // ali-ons passes the reply's queueId through as sent (a string from the Java broker).
      const q = Number(r.messageQueue.queueId);
      assert.ok(q >= 0 && q < 4, `queueId ${r.messageQueue.queueId}`);
      if (!perQueue.has(q)) perQueue.set(q, []);
      perQueue.get(q).push(r.queueOffset);
    });
    assert.equal(ids.size, N, 'msgIds are unique');
    for (const [ q, offs ] of perQueue) {
      offs.sort((a, b) => a - b);
      assert.deepEqual(offs, offs.map((_, i) => i), `queue ${q} offsets are 0..${offs.length - 1}`);
      assert.equal(await cluster.maxOffset(topic, q), offs.length, `GET_MAX_OFFSET queue ${q}`);
    }
    console.log(`# queues: ${JSON.stringify(Object.fromEntries(Array.from(perQueue, ([ q, o ]) => [ q, o.length ])))}`);

    const col = h.collector();
    const consumer = cluster.consumer({ consumerGroup: h.uniq('CG_send') });
    await consumer.ready();
    consumer.subscribe(topic, '*', col.handler);
    await h.waitFor(() => col.unique === N, 60000, () => `all ${N} messages (have ${col.unique})`);

    for (let i = 0; i < N; i++) {
      const d = col.byKey.get(`k${i} alt${i}`);
      assert.ok(d, `message k${i} received`);
      assert.equal(d[0].body.toString(), bodies[i]);
      assert.equal(d[0].tags, i % 2 ? 'TagB' : 'TagA');
      assert.equal(d[0].topic, topic);
      assert.equal(d[0].msgId.toUpperCase(), results[i].msgId.toUpperCase(), `k${i}: consumer msgId = send msgId`);
      assert.equal(d[0].queueId, Number(results[i].messageQueue.queueId));
      assert.equal(d[0].queueOffset, results[i].queueOffset);
      assert.equal(d[0].storeHost, cluster.brokerAddr);
      assert.equal(d[0].reconsumeTimes, 0);
    }
    // Property keys the consumer sees besides the ones it sent (RocketMQ 4.9.8: CLUSTER, and
    // MIN_OFFSET/MAX_OFFSET that ali-ons adds from the pull reply). Printed, not asserted.
    const extra = new Set();
    for (const d of col.deliveries) {
      for (const k of Object.keys(d.properties)) {
        if (![ 'TAGS', 'KEYS', 'CLUSTER', 'MIN_OFFSET', 'MAX_OFFSET' ].includes(k)) extra.add(JSON.stringify(k));
      }
    }
    console.log(`# other property keys seen by the consumer: ${[ ...extra ].join(', ') || 'none'}`);
    console.log(`# duplicates: ${col.duplicates}`);
    assert.equal(col.duplicates, 0, 'a single consumer gets each message once');
  });
});
