'use strict';
// (b) Clustering: two consumers of one group split the queues; together they get every
// message. Duplicates are counted and printed (RocketMQ promises at-least-once, not exactly-once).
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const N = 400;

test('ali-ons: two clustering consumers of one group get every message between them', { timeout: 150000 }, async () => {
  await h.withCluster('clustering', async cluster => {
    const topic = h.uniq('T_clu');
    const group = h.uniq('CG_clu');
    await cluster.createTopic(topic, 4);

    const cols = [ h.collector(), h.collector() ];
    const consumers = cols.map(() => cluster.consumer({ consumerGroup: group }));
    for (const c of consumers) await c.ready();
    consumers.forEach((c, i) => c.subscribe(topic, '*', cols[i].handler));
    // Wait for the rebalance to settle (2 + 2 queues) so that both take part from the start.
    for (const c of consumers) await h.waitQueues(c, topic, 2);

    const producer = cluster.producer();
    const msgs = [];
    for (let i = 0; i < N; i++) {
      const m = new h.Message(topic, 'TagA', `clu-${i}`);
      m.keys = [ `k${i}` ];
      msgs.push(m);
    }
    const results = await h.sendAll(producer, msgs);
    results.forEach((r, i) => assert.equal(r.sendStatus, 'SEND_OK', `send ${i}`));

    const union = () => new Set([ ...cols[0].byKey.keys(), ...cols[1].byKey.keys() ]).size;
    await h.waitFor(() => union() === N, 60000, () => `${N} messages between the two consumers (have ${union()})`);

    for (let i = 0; i < N; i++) {
      const d = cols[0].byKey.get(`k${i}`) || cols[1].byKey.get(`k${i}`);
      assert.equal(d[0].body.toString(), `clu-${i}`);
    }
    const queuesOf = col => new Set(col.deliveries.map(d => d.queueId));
    const [ qa, qb ] = cols.map(queuesOf);
    const both = cols[0].deliveries.filter(d => cols[1].byKey.has(d.key)).length;
    const dups = cols[0].duplicates + cols[1].duplicates + both;
    console.log(`# consumer A: ${cols[0].deliveries.length} deliveries from queues [${[ ...qa ]}]; ` +
      `consumer B: ${cols[1].deliveries.length} from [${[ ...qb ]}]; duplicates: ${dups}`);
    assert.ok(cols[0].unique > 0 && cols[1].unique > 0, 'both consumers got messages');
    assert.equal([ ...qa ].filter(q => qb.has(q)).length, 0, 'no queue was consumed by both');
  });
});
