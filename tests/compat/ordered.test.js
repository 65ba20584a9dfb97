'use strict';
// (j) Ordered sends: ali-ons picks the queue from msg.shardingKey (md5 % queue count), so all
// messages of one key go to one queue, in send order; a consumer then sees each key's messages
// in exactly that order. Needs nothing beyond send/pull from the broker.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const KEYS = [ 'order-a', 'order-b', 'order-c' ];
const PER_KEY = 60;

test('ali-ons: messages with one sharding key share a queue and are consumed in order', { timeout: 150000 }, async () => {
  await h.withCluster('ordered', async cluster => {
    const topic = h.uniq('T_ord');
    await cluster.createTopic(topic, 4);
    const producer = cluster.producer();
    const sends = new Map(KEYS.map(k => [ k, [] ]));
    for (let i = 0; i < PER_KEY; i++) {
      for (const k of KEYS) {
        const m = new h.Message(topic, 'TagO', `${k}:${i}`);
        m.keys = [ `${k}:${i}` ];
        m.shardingKey = k;
        const r = await producer.send(m); // one at a time: the send order is the order
        assert.equal(r.sendStatus, 'SEND_OK');
        sends.get(k).push({ q: Number(r.messageQueue.queueId), off: r.queueOffset });
      }
    }
    for (const [ k, s ] of sends) {
      assert.equal(new Set(s.map(x => x.q)).size, 1, `${k}: one queue`);
      for (let i = 1; i < s.length; i++) assert.ok(s[i].off > s[i - 1].off, `${k}: queue offsets increase`);
    }
    console.log(`# queues: ${KEYS.map(k => `${k} -> ${sends.get(k)[0].q}`).join(', ')}`);

    const seq = new Map(KEYS.map(k => [ k, [] ]));
    const col = h.collector(d => { const [ k, i ] = d.body.toString().split(':'); seq.get(k).push(Number(i)); });
    const consumer = cluster.consumer({ consumerGroup: h.uniq('CG_ord') });
    await consumer.ready();
    consumer.subscribe(topic, '*', col.handler);
    const want = KEYS.length * PER_KEY;
    await h.waitFor(() => col.unique === want, 60000, () => `${want} messages (have ${col.unique})`);
    for (const k of KEYS) {
      assert.deepEqual(seq.get(k), Array.from({ length: PER_KEY }, (_, i) => i), `${k}: consumed in send order`);
    }
  });
});
