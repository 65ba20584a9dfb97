'use strict';
// A new group with ali-ons' default consumeFromWhere (CONSUME_FROM_LAST_OFFSET) on a young topic
// (its first message still in memory): RocketMQ answers QUERY_CONSUMER_OFFSET with 0, not
// QUERY_NOT_FOUND, so the group reads the topic from the start. ali-ons users rely on this.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const N = 20;

test('ali-ons: a new group with the default CONSUME_FROM_LAST_OFFSET reads a young topic from the start', { timeout: 150000 }, async () => {
  await h.withCluster('fromwhere', async cluster => {
    const topic = h.uniq('T_from');
    const group = h.uniq('CG_from');
    await cluster.createTopic(topic, 4);
    const producer = cluster.producer();
    const msgs = [];
    for (let i = 0; i < N; i++) {
      const m = new h.Message(topic, 'TagF', `from-${i}`);
      m.keys = [ `k${i}` ];
      msgs.push(m);
    }
    const rs = await h.sendAll(producer, msgs);
    rs.forEach((r, i) => assert.equal(r.sendStatus, 'SEND_OK', `send ${i}`));
    for (let q = 0; q < 4; q++) {
      assert.equal(await cluster.consumerOffset(group, topic, q), 0, `QUERY_CONSUMER_OFFSET of a new group, q${q}`);
    }
    const col = h.collector();
    const consumer = cluster.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' });
    await consumer.ready();
    consumer.subscribe(topic, '*', col.handler);
    await h.waitFor(() => col.unique === N, 30000, () => `${N} messages sent before the group existed (have ${col.unique})`);
    for (let i = 0; i < N; i++) assert.equal(col.byKey.get(`k${i}`)[0].body.toString(), `from-${i}`);
  });
});
