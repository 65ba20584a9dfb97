'use strict';
// (f) Bodies round-trip byte for byte: all 256 byte values, a 1 MiB random body, and bodies on
// both sides of ali-ons' 4 KiB compression threshold (it deflates bodies >= 4 KiB and sets
// sysFlag bit 0; the broker must keep that flag so the consumer inflates).
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const h = require('./harness');

test('ali-ons: binary bodies round-trip byte for byte', { timeout: 150000 }, async () => {
  await h.withCluster('bodies', async cluster => {
    const topic = h.uniq('T_body');
    await cluster.createTopic(topic, 4);
    const all256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const bodies = {
      all256,
      all256x16: Buffer.concat(Array(16).fill(all256)), // exactly 4096: compressed
      under4k: crypto.randomBytes(4095), // not compressed
      random1m: crypto.randomBytes(1024 * 1024), // compressed, but deflate makes it larger
      text100k: Buffer.from('petrel '.repeat(14629)), // compresses well
      nul: Buffer.from([ 0 ]),
    };
    const producer = cluster.producer();
    const sent = {};
    for (const [ name, body ] of Object.entries(bodies)) {
      const m = new h.Message(topic, 'Bin', Buffer.from(body)); // ali-ons replaces msg.body when compressing
      m.keys = [ name ];
      const r = await producer.send(m);
      assert.equal(r.sendStatus, 'SEND_OK', `send ${name}`);
      sent[name] = r;
    }

    const col = h.collector();
    const consumer = cluster.consumer({ consumerGroup: h.uniq('CG_body') });
    await consumer.ready();
    consumer.subscribe(topic, '*', col.handler);
    const names = Object.keys(bodies);
    await h.waitFor(() => col.unique === names.length, 60000, () => `${names.length} bodies (have ${col.unique})`);
    for (const name of names) {
      const got = col.byKey.get(name)[0].body;
      assert.ok(Buffer.isBuffer(got), `${name}: body is a Buffer`);
      assert.equal(got.length, bodies[name].length, `${name}: length`);
      assert.ok(got.equals(bodies[name]), `${name}: bytes equal`);
    }

    // What the broker stored: sysFlag bit 0 exactly for the compressed ones, and their bodies inflate.
    for (const name of names) {
      const q = Number(sent[name].messageQueue.queueId);
      const r = await cluster.pull(h.uniq('CG_raw'), topic, q, sent[name].queueOffset, null, 1);
      assert.equal(r.code, 0, `raw pull of ${name}: code ${r.code} ${r.remark}`);
      const rec = r.records[0];
      const compressed = bodies[name].length >= 4096;
      assert.equal(rec.sysFlag & 1, compressed ? 1 : 0, `${name}: stored sysFlag ${rec.sysFlag}`);
      const raw = compressed ? zlib.inflateSync(rec.body) : rec.body;
      assert.ok(raw.equals(bodies[name]), `${name}: stored body`);
    }
  });
});

// ali-ons has no client-side size limit; the broker's maxMessageSize (4 MiB, on the stored body)
// refuses a larger body with 13 MESSAGE_ILLEGAL, which ali-ons does not retry. A 4 MiB random
// body deflates to slightly more than 4 MiB, so it is refused too; a compressible 8 MiB body
// deflates to a few KiB and is stored and read back whole.
test('ali-ons: bodies over maxMessageSize are refused with 13, compressible ones pass', { timeout: 150000 }, async () => {
  await h.withCluster('bigbody', async cluster => {
    const topic = h.uniq('T_big');
    await cluster.createTopic(topic, 1);
    const producer = cluster.producer();
    for (const [ name, body ] of [ [ '4MiB+1 random', crypto.randomBytes(4 * 1024 * 1024 + 1) ],
      [ '4MiB random', crypto.randomBytes(4 * 1024 * 1024) ] ]) {
      const m = new h.Message(topic, 'Big', body);
      m.keys = [ name ];
      await assert.rejects(producer.send(m), err => {
        assert.equal(err.code, 13, `${name}: ${err.code} ${err.message}`);
        return true;
      }, `${name} is refused`);
    }
    assert.equal(await cluster.maxOffset(topic, 0), 0, 'nothing stored');

    const big = Buffer.alloc(8 * 1024 * 1024, 'abcdefgh');
    const m = new h.Message(topic, 'Big', Buffer.from(big));
    m.keys = [ '8MiB text' ];
    assert.equal((await producer.send(m)).sendStatus, 'SEND_OK');
    const col = h.collector();
    const consumer = cluster.consumer({ consumerGroup: h.uniq('CG_big') });
    await consumer.ready();
    consumer.subscribe(topic, '*', col.handler);
    await h.waitFor(() => col.unique === 1, 30000, 'the 8 MiB message');
    assert.ok(col.byKey.get('8MiB text')[0].body.equals(big), '8 MiB body intact');
  });
});
