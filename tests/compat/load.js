'use strict';
/*
 * load: a bounded ali-ons load (not a ctest case). Starts a broker like the scenarios do (or uses
 * PETREL_NAMESRV / PETREL_JAVA), sends COUNT messages of SIZE bytes with CONC sends in flight,
 * then consumes them with one push consumer, and prints produce and consume msgs/s.
 *   PETREL_BIN=build/petrel node tests/compat/load.js [COUNT=20000] [SIZE=100] [CONC=32]
 * ali-ons itself (one Node.js thread, JSON headers) is usually the bottleneck, not the broker.
 */
const h = require('./harness');

const COUNT = Number(process.argv[2] || 20000);
const SIZE = Number(process.argv[3] || 100);
const CONC = Number(process.argv[4] || 32);

(async () => {
  await h.withCluster('load', async cluster => {
    const topic = h.uniq('T_load');
    await cluster.createTopic(topic, 4);
    const producer = cluster.producer();
    await producer.ready();
    const body = Buffer.alloc(SIZE, 'x');
    const msgs = Array.from({ length: COUNT }, (_, i) => {
      const m = new h.Message(topic, 'L', body);
      m.keys = [ `k${i}` ];
      return m;
    });
    let t0 = process.hrtime.bigint();
    await h.sendAll(producer, msgs, CONC);
    const sendS = Number(process.hrtime.bigint() - t0) / 1e9;

    let n = 0;
    let resolveDone;
    const done = new Promise(r => { resolveDone = r; });
    const consumer = cluster.consumer({ consumerGroup: h.uniq('CG_load'), pullBatchSize: 32 });
    await consumer.ready();
    t0 = process.hrtime.bigint();
    consumer.subscribe(topic, '*', async () => { if (++n === COUNT) resolveDone(); });
    await done;
    const consS = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`ali-ons load (${cluster.mode}): ${COUNT} x ${SIZE} B, ${CONC} in flight: ` +
      `produce ${Math.round(COUNT / sendS)} msg/s (${sendS.toFixed(2)} s), ` +
      `consume ${Math.round(COUNT / consS)} msg/s (${consS.toFixed(2)} s, incl. consumer start), ` +
      `SYSTEM_BUSY resends ${h.sendAll.busy}`);
  });
})().catch(err => { console.error(err); process.exit(1); });
