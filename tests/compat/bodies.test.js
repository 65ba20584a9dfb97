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
