// A minimal RocketMQ remoting client (JSON headers) for the console test:
// what a consumer does (pull, commit offsets, send a message back to the DLQ).
'use strict';
const net = require('net');

class Remoting {
  constructor(addr) {
    const [host, port] = addr.split(':');
    this.sock = net.connect(Number(port), host);
    this.sock.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.opaque = 1;
    this.pending = new Map();
    this.ready = new Promise((res, rej) => {
      this.sock.once('connect', res);
      this.sock.once('error', rej);
    });
    this.sock.on('data', (d) => this.onData(d));
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const len = this.buf.readInt32BE(0);
      if (this.buf.length < 4 + len) return;
      const frame = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      const hlen = frame.readInt32BE(0) & 0xffffff;
      const hdr = JSON.parse(frame.subarray(4, 4 + hlen).toString('utf8'));
      hdr.body = frame.subarray(4 + hlen);
      const p = this.pending.get(hdr.opaque);
      if (p && (hdr.flag & 1)) {
        this.pending.delete(hdr.opaque);
        p(hdr);
      }
    }
  }

  async call(code, ext, body) {
    await this.ready;
    const opaque = this.opaque++;
    const extFields = {};
    for (const [k, v] of Object.entries(ext || {})) extFields[k] = String(v);
    const hdr = Buffer.from(JSON.stringify({code, language: 'JAVA', version: 401, opaque, flag: 0, extFields}));
    const b = body ? Buffer.from(body) : Buffer.alloc(0);
    const head = Buffer.alloc(8);
    head.writeInt32BE(4 + hdr.length + b.length, 0);
    head.writeInt32BE(hdr.length, 4);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('timeout for code ' + code)), 10000);
      this.pending.set(opaque, (r) => { clearTimeout(t); res(r); });
      this.sock.write(Buffer.concat([head, hdr, b]));
    });
  }

  // SEND_MESSAGE_V2; props is an object ({KEYS: 'a b'}).
  send(topic, props, body, queueId = 0) {
    const p = Object.entries(props).map(([k, v]) => k + '\u0001' + v + '\u0002').join('');
    return this.call(310, {a: 'TEST_PG', b: topic, c: 'TBW102', d: 4, e: queueId, f: 0, g: Date.now(), h: 0,
      i: p, j: 0, k: 'false'}, body);
  }

  close() { this.sock.destroy(); }
}

// Message records in a pull body: [{queueOffset, physOffset, topic}].
function records(body) {
  const out = [];
  let p = 0;
  while (p + 4 <= body.length) {
    const total = body.readInt32BE(p);
    const sysFlag = body.readInt32BE(p + 36);
    const bornV6 = (sysFlag & 0x10) !== 0;
    out.push({queueOffset: Number(body.readBigInt64BE(p + 20)), physOffset: Number(body.readBigInt64BE(p + 28)),
              bornHostLen: bornV6 ? 20 : 8});
    p += total;
  }
  return out;
}

module.exports = {Remoting, records};
