'use strict';
// (d) Tag filtering: a consumer subscribed to `TagA || TagB` gets A and B, never C. ali-ons
// filters again on the client, so a raw PULL_MESSAGE also checks that the broker filters.
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const N = 60; // of each tag

test('ali-ons: subscription "TagA || TagB" gets only TagA and TagB', { timeout: 150000 }, async () => {
  await h.withCluster('tags', async cluster => {
    const topic = h.uniq('T_tag');
    await cluster.createTopic(topic, 4);
    const producer = cluster.producer();
    const msgs = [];
    for (let i = 0; i < N; i++) {
      for (const t of [ 'TagA', 'TagB', 'TagC' ]) {
        const m = new h.Message(topic, t, `${t}-${i}`);
        m.keys = [ `${t}-${i}` ];
        msgs.push(m);
      }
    }
    // Four TagB messages last: one per queue (round robin), so once they are consumed every
    // TagC before them in each queue would have been delivered too, were it not filtered.
    for (let i = 0; i < 4; i++) {
      const m = new h.Message(topic, 'TagB', `last-${i}`);
      m.keys = [ `last-${i}` ];
      msgs.push(m);
    }
    const results = [];
    for (const m of msgs) results.push(await producer.send(m)); // in order: round robin
    results.forEach((r, i) => assert.equal(r.sendStatus, 'SEND_OK', `send ${i}`));
    assert.equal(new Set(results.slice(-4).map(r => Number(r.messageQueue.queueId))).size, 4,
      'the last four sends cover the four queues');

    const col = h.collector();
    const consumer = cluster.consumer({ consumerGroup: h.uniq('CG_tag') });
    await consumer.ready();
    consumer.subscribe(topic, 'TagA || TagB', col.handler);
    const want = 2 * N + 4;
    await h.waitFor(() => col.unique === want, 60000, () => `${want} TagA/TagB messages (have ${col.unique})`);
    const tags = {};
    for (const d of col.deliveries) tags[d.tags] = (tags[d.tags] || 0) + 1;
    console.log(`# delivered by tag: ${JSON.stringify(tags)}; duplicates ${col.duplicates}`);
    assert.equal(tags.TagC, undefined, 'no TagC message delivered');
    for (let i = 0; i < N; i++) {
      assert.equal(col.byKey.get(`TagA-${i}`)[0].body.toString(), `TagA-${i}`);
      assert.equal(col.byKey.get(`TagB-${i}`)[0].body.toString(), `TagB-${i}`);
    }

    // The broker's own filtering: raw pulls with the subscription return no TagC.
    const group = h.uniq('CG_raw');
    let seen = 0;
    for (let q = 0; q < 4; q++) {
      const max = await cluster.maxOffset(topic, q);
      let off = 0;
      for (let guard = 0; off < max && guard < 100; guard++) {
        const r = await cluster.pull(group, topic, q, off, 'TagA || TagB');
        assert.ok([ 0, 19, 20 ].includes(r.code), `raw pull q${q}@${off}: code ${r.code} ${r.remark}`);
        for (const rec of r.records) {
          assert.notEqual(rec.properties.TAGS, 'TagC', `broker returned TagC at q${q} offset ${rec.queueOffset}`);
          seen++;
        }
        const next = Number(r.ext.nextBeginOffset);
        assert.ok(next > off || r.code === 19, `nextBeginOffset advances (q${q}: ${off} -> ${next})`);
        if (r.code === 19) break;
        off = next;
      }
    }
    assert.equal(seen, want, 'raw pulls return exactly the TagA/TagB messages');
  });
});
