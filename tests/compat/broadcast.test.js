'use strict';
// (c) Broadcasting: two consumers of one group each get every message.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const N = 200;

test('ali-ons: two broadcasting consumers each get every message', { timeout: 150000 }, async () => {
  await h.withCluster('broadcast', async cluster => {
    const topic = h.uniq('T_bc');
    const group = h.uniq('CG_bc');
    await cluster.createTopic(topic, 4);

    const cols = [ h.collector(), h.collector() ];
    const consumers = cols.map(() => cluster.consumer({ consumerGroup: group, isBroadcast: true }));
    for (const c of consumers) await c.ready();
    consumers.forEach((c, i) => c.subscribe(topic, '*', cols[i].handler));
    for (const c of consumers) await h.waitQueues(c, topic, 4);

    const producer = cluster.producer();
    const msgs = [];
    for (let i = 0; i < N; i++) {
      const m = new h.Message(topic, 'TagA', `bc-${i}`);
      m.keys = [ `k${i}` ];
      msgs.push(m);
    }
    const results = await h.sendAll(producer, msgs);
    results.forEach((r, i) => assert.equal(r.sendStatus, 'SEND_OK', `send ${i}`));

    for (const [ i, col ] of cols.entries()) {
      await h.waitFor(() => col.unique === N, 60000, () => `consumer ${i}: ${N} messages (have ${col.unique})`);
    }
    for (const col of cols) {
      for (let i = 0; i < N; i++) assert.equal(col.byKey.get(`k${i}`)[0].body.toString(), `bc-${i}`);
    }
    console.log(`# duplicates: A ${cols[0].duplicates}, B ${cols[1].duplicates}`);
    assert.equal(cols[0].duplicates + cols[1].duplicates, 0, 'no duplicates without failures');
  });
});
