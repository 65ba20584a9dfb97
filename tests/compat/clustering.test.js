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

// A second consumer joins while messages flow: the first gives up two queues (committing their
// offsets), the second takes them from there. Nothing is lost; duplicates (messages the first
// had pulled but not committed when it let go) are counted and printed.
test('ali-ons: a consumer joining mid-stream takes over queues without loss', { timeout: 150000 }, async () => {
  await h.withCluster('rebalance', async cluster => {
    const topic = h.uniq('T_reb');
    const group = h.uniq('CG_reb');
    await cluster.createTopic(topic, 4);
    const producer = cluster.producer();
    await producer.ready();
    const cols = [ h.collector(), h.collector() ];
    const a = cluster.consumer({ consumerGroup: group });
    await a.ready();
    a.subscribe(topic, '*', cols[0].handler);
    await h.waitQueues(a, topic, 4);

    const sending = (async () => {
      for (let i = 0; i < N; i++) {
        const m = new h.Message(topic, 'TagA', `reb-${i}`);
        m.keys = [ `k${i}` ];
        const [ r ] = await h.sendAll(producer, [ m ], 1);
        assert.equal(r.sendStatus, 'SEND_OK', `send ${i}`);
        if (i % 20 === 19) await h.sleep(20); // keep messages flowing while B joins
      }
    })();
    await h.waitFor(() => cols[0].unique >= N / 4, 30000, () => `consumer A to get ${N / 4} (has ${cols[0].unique})`);
    const b = cluster.consumer({ consumerGroup: group });
    await b.ready();
    b.subscribe(topic, '*', cols[1].handler);
    await h.waitQueues(b, topic, 2);
    await h.waitQueues(a, topic, 2);
    await sending;

    const union = () => new Set([ ...cols[0].byKey.keys(), ...cols[1].byKey.keys() ]).size;
    await h.waitFor(() => union() === N, 60000, () => `${N} messages between the two consumers (have ${union()})`);
    const both = [ ...cols[1].byKey.keys() ].filter(k => cols[0].byKey.has(k)).length;
    console.log(`# A ${cols[0].deliveries.length} deliveries, B ${cols[1].deliveries.length}; ` +
      `duplicates across the handover ${both}, within a consumer ${cols[0].duplicates + cols[1].duplicates}`);
    assert.ok(cols[1].unique > 0, 'the joining consumer got messages');
    for (let i = 0; i < N; i++) {
      const d = cols[0].byKey.get(`k${i}`) || cols[1].byKey.get(`k${i}`);
      assert.equal(d[0].body.toString(), `reb-${i}`);
    }
  });
});
