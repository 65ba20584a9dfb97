'use strict';
// (h) Retry: a listener that throws makes ali-ons send the message back (CONSUMER_SEND_MSG_BACK,
// delay level 0 = broker's choice: level 3 + reconsumeTimes); it comes again through
// %RETRY%<group> no earlier than that level's delay, with reconsumeTimes 1, the original topic,
// body, tags and keys, and ORIGIN_MESSAGE_ID = the first delivery's msgId. Needs broker retry
// support (label needs-semantics; PETREL_COMPAT_SKIP_SEMANTICS=1 skips it).
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

test('ali-ons: a message whose listener throws is delivered again via %RETRY%', {
  timeout: 150000, skip: h.skipSemantics ? 'PETREL_COMPAT_SKIP_SEMANTICS=1' : false,
}, async () => {
  await h.withCluster('retry', async cluster => {
    const topic = h.uniq('T_retry');
    const group = h.uniq('CG_retry');
    const level3 = cluster.delayLevelsMs[2];
    await cluster.createTopic(topic, 4);

    const got = new Map(); // key -> [{at, msg fields}]
    let failedAt = 0;
    const consumer = cluster.consumer({ consumerGroup: group });
    await consumer.ready();
    consumer.subscribe(topic, '*', async msg => {
      const d = { at: Date.now(), topic: msg.topic, body: Buffer.from(msg.body), tags: msg.tags, keys: msg.keys,
        msgId: msg.msgId, reconsumeTimes: msg.reconsumeTimes, originMessageId: msg.originMessageId,
        properties: Object.assign({}, msg.properties) };
      if (!got.has(d.keys)) got.set(d.keys, []);
      got.get(d.keys).push(d);
      if (d.keys === 'fail' && d.reconsumeTimes === 0) {
        failedAt = Date.now();
        throw new Error('planned failure (the test wants this message again)');
      }
    });
    await h.waitQueues(consumer, topic, 4);

    const producer = cluster.producer();
    for (const k of [ 'ok1', 'fail', 'ok2' ]) {
      const m = new h.Message(topic, 'TagR', `body of ${k}`);
      m.keys = [ k ];
      assert.equal((await producer.send(m)).sendStatus, 'SEND_OK');
    }
    await h.waitFor(() => (got.get('fail') || []).length >= 2, level3 + 30000,
      () => `the failed message to come again (deliveries: ${JSON.stringify([ ...got ].map(([ k, v ]) => [ k, v.length ]))})`);

    const [ first, again ] = got.get('fail');
    console.log(`# redelivered ${again.at - failedAt} ms after the failure (level 3 = ${level3} ms); ` +
      `properties ${JSON.stringify(again.properties)}`);
    assert.equal(first.reconsumeTimes, 0);
    assert.equal(again.reconsumeTimes, 1, 'reconsumeTimes of the retry');
    assert.equal(again.topic, topic, 'the retry shows the original topic');
    assert.equal(again.properties.RETRY_TOPIC, topic, 'RETRY_TOPIC property');
    // Set by the broker's CONSUMER_SEND_MSG_BACK (schedule topic, level 3). Without them ali-ons
    // fell back to re-sending the message to %RETRY% itself (e.g. 3 REQUEST_CODE_NOT_SUPPORTED).
    assert.equal(again.properties.REAL_TOPIC, `%RETRY%${group}`,
      'REAL_TOPIC: the retry went through the broker (not ali-ons\' own re-send fallback)');
    assert.equal(again.properties.DELAY, '3', 'DELAY: the broker chose level 3 for the first retry');
    assert.equal(again.body.toString(), 'body of fail');
    assert.equal(again.tags, 'TagR');
    assert.equal(again.keys, 'fail');
    assert.equal(String(again.originMessageId).toUpperCase(), first.msgId.toUpperCase(), 'ORIGIN_MESSAGE_ID');
    assert.ok(again.at - failedAt >= level3, `not earlier than delay level 3 (${again.at - failedAt} < ${level3})`);
    assert.equal(got.get('ok1').length, 1, 'ok1 once');
    assert.equal(got.get('ok2').length, 1, 'ok2 once');

    // RocketMQ 4.9.8 creates the retry topic with one queue, perm 6 (read + write).
    const r = await h.request(cluster.namesrvAddr, 105, { topic: `%RETRY%${group}` });
    assert.equal(r.code, 0, `route of %RETRY%${group}: ${r.code} ${r.remark}`);
    const qd = h.lenientJson(r.body.toString()).queueDatas[0];
    assert.equal(qd.readQueueNums, 1);
    assert.equal(qd.perm, 6);
  });
});

// A message that always fails, with ali-ons' maxReconsumeTimes 1: delivered twice (the original
// and one retry), then the broker moves it to %DLQ%<group> (reconsumeTimes >= maxReconsumeTimes
// from the request header) instead of making a second retry copy.
test('ali-ons: a message failing past maxReconsumeTimes goes to %DLQ%', {
  timeout: 150000, skip: h.skipSemantics ? 'PETREL_COMPAT_SKIP_SEMANTICS=1' : false,
}, async () => {
  await h.withCluster('dlq', async cluster => {
    const topic = h.uniq('T_dlq');
    const group = h.uniq('CG_dlq');
    await cluster.createTopic(topic, 4);
    const seen = [];
    const consumer = cluster.consumer({ consumerGroup: group, maxReconsumeTimes: 1 });
    await consumer.ready();
    consumer.subscribe(topic, '*', async msg => {
      seen.push({ keys: msg.keys, reconsumeTimes: msg.reconsumeTimes });
      if (msg.keys === 'doomed') throw new Error('planned failure, every time');
    });
    await h.waitQueues(consumer, topic, 4);
    const producer = cluster.producer();
    const m = new h.Message(topic, 'TagX', 'body of doomed');
    m.keys = [ 'doomed' ];
    assert.equal((await producer.send(m)).sendStatus, 'SEND_OK');

    const dlq = `%DLQ%${group}`;
    let last = '';
    await h.waitFor(async () => {
      const r = await h.request(cluster.brokerAddr, 30, { topic: dlq, queueId: 0 });
      last = `${r.code} ${r.remark || ''} ${JSON.stringify(r.ext)}`;
      return r.code === 0 && Number(r.ext.offset) === 1;
    }, cluster.delayLevelsMs[2] + 30000, () => `GET_MAX_OFFSET of ${dlq} to be 1 (last: ${last}); deliveries ${JSON.stringify(seen)}`);

    assert.deepEqual(seen.map(s => s.reconsumeTimes), [ 0, 1 ], 'the original and one retry');
    assert.equal(await cluster.maxOffset(`%RETRY%${group}`, 0), 1, 'exactly one retry copy');
    // RocketMQ 4.9.8 registers the new DLQ topic before storing the message; Petrel registers it
    // asynchronously, so allow a moment for the route.
    let route;
    await h.waitFor(async () => (route = await h.request(cluster.namesrvAddr, 105, { topic: dlq })).code === 0,
      5000, () => `a route for ${dlq} (last: ${route.code} ${route.remark})`);
    const qd = h.lenientJson(route.body.toString()).queueDatas[0];
    console.log(`# ${dlq}: ${qd.readQueueNums} queue(s), perm ${qd.perm}`);
    assert.equal(qd.readQueueNums, 1);
    const r = await cluster.pull(h.uniq('CG_dlqread'), dlq, 0, 0, '*');
    if (qd.perm & 4) {
      assert.equal(r.code, 0, `pull of ${dlq}: ${r.code} ${r.remark}`);
      const rec = r.records[0];
      console.log(`# DLQ record: reconsumeTimes ${rec.reconsumeTimes}, properties ${JSON.stringify(rec.properties)}`);
      assert.equal(rec.body.toString(), 'body of doomed');
      assert.equal(rec.properties.KEYS, 'doomed');
      assert.equal(rec.properties.RETRY_TOPIC, topic);
    } else {
      console.log(`# ${dlq} is not readable (perm ${qd.perm}): pull answered ${r.code} ${r.remark}`);
    }
  });
});
