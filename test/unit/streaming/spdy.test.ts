// The SPDY/3.1 framer on its own: dictionary, header blocks, SYN_REPLY, PING echo, DATA/FIN, RST.
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { describe, test } from 'node:test';
import { SPDY3_DICTIONARY } from '../../../src/kubelet/streaming/spdy-dictionary.js';
import { FLAG_FIN, FrameType, SpdySession, decodeHeaderBlock, encodeHeaderBlock, type SpdyStream } from '../../../src/kubelet/streaming/spdy.js';

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A tiny client side: its own deflate/inflate contexts and frame builders. */
class Client {
  private readonly deflate = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY });
  private readonly inflate = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
  received = Buffer.alloc(0);

  private zrun(z: zlib.Deflate | zlib.Inflate, input: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      const onData = (c: Buffer) => out.push(c);
      z.on('data', onData);
      z.write(input);
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        z.off('data', onData);
        resolve(Buffer.concat(out));
      });
    });
  }

  control(type: number, flags: number, payload: Buffer): Buffer {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(0x8003, 0);
    h.writeUInt16BE(type, 2);
    h.writeUInt32BE(payload.length, 4);
    h[4] = flags;
    return Buffer.concat([h, payload]);
  }

  async synStream(id: number, headers: Record<string, string>): Promise<Buffer> {
    const p = Buffer.alloc(10);
    p.writeUInt32BE(id, 0);
    return this.control(FrameType.SYN_STREAM, 0, Buffer.concat([p, await this.zrun(this.deflate, encodeHeaderBlock(headers))]));
  }

  data(id: number, flags: number, payload: Buffer): Buffer {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(id, 0);
    h.writeUInt32BE(payload.length, 4);
    h[4] = flags;
    return Buffer.concat([h, payload]);
  }

  /** Split everything received into frames. */
  async frames(): Promise<{ control: boolean; type: number; id: number; flags: number; payload: Buffer; headers?: Record<string, string> }[]> {
    const out = [];
    let buf = this.received;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4) & 0xffffff;
      const f = buf.subarray(0, 8 + len);
      buf = buf.subarray(8 + len);
      const control = (f[0]! & 0x80) !== 0;
      const payload = f.subarray(8);
      if (control) {
        const type = f.readUInt16BE(2);
        const id = payload.length >= 4 ? payload.readUInt32BE(0) & 0x7fffffff : 0;
        const headers = type === FrameType.SYN_REPLY ? decodeHeaderBlock(await this.zrun(this.inflate, payload.subarray(4))) : undefined;
        out.push({ control, type, id, flags: f[4]!, payload, headers });
      } else {
        out.push({ control, type: 0, id: f.readUInt32BE(0), flags: f[4]!, payload });
      }
    }
    return out;
  }
}

describe('SPDY/3.1', () => {
  test('the dictionary is the 1423-byte SPDY/3 one (Adler-32 0xe3c6a7c2, as kubectl checks)', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(adler32(SPDY3_DICTIONARY), 0xe3c6a7c2);
  });

  test('header blocks round-trip (names lowercased)', () => {
    const h = decodeHeaderBlock(encodeHeaderBlock({ StreamType: 'data', port: '80', requestid: '0' }));
    assert.deepEqual(h, { streamtype: 'data', port: '80', requestid: '0' });
  });

  test('SYN_STREAM gets SYN_REPLY, PING is echoed, DATA flows both ways with FIN, RST destroys', async () => {
    const client = new Client();
    const session = new SpdySession({
      send: async (b) => {
        client.received = Buffer.concat([client.received, b]);
      },
      pause() {},
      resume() {},
      end() {},
      destroy() {},
    });
    const streams: SpdyStream[] = [];
    session.on('stream', (s) => streams.push(s));
    // Frames split at odd boundaries, as kubectl's WebSocket tunnel does.
    const bytes = Buffer.concat([
      await client.synStream(1, { streamtype: 'error' }),
      await client.synStream(3, { streamtype: 'stdin' }),
      client.control(FrameType.PING, 0, Buffer.from([0, 0, 0, 7])),
      client.data(3, 0, Buffer.from('hello ')),
      client.data(3, FLAG_FIN, Buffer.from('world')),
    ]);
    for (let i = 0; i < bytes.length; i += 3) session.receive(bytes.subarray(i, i + 3));
    await session.processed();
    await session.flushed();
    assert.deepEqual(
      streams.map((s) => [s.id, s.headers['streamtype']]),
      [
        [1, 'error'],
        [3, 'stdin'],
      ],
    );
    let input = '';
    for await (const c of streams[1]!) input += c.toString();
    assert.equal(input, 'hello world');

    await new Promise<void>((resolve) => streams[0]!.end(Buffer.from('status'), () => resolve()));
    await session.flushed();
    const frames = await client.frames();
    assert.deepEqual(
      frames.map((f) => (f.control ? [f.type, f.id] : ['DATA', f.id, f.flags, f.payload.toString()])),
      [
        [FrameType.SYN_REPLY, 1],
        [FrameType.SYN_REPLY, 3],
        [FrameType.PING, 7],
        ['DATA', 1, 0, 'status'],
        ['DATA', 1, FLAG_FIN, ''],
      ],
    );
    assert.deepEqual(frames[0]!.headers, {});

    const rst = Buffer.alloc(8);
    rst.writeUInt32BE(3, 0);
    rst.writeUInt32BE(5, 4);
    session.receive(client.control(FrameType.RST_STREAM, 0, rst));
    await session.processed();
    assert.equal(streams[1]!.destroyed, true);
    session.destroy();
    assert.equal(session.closed, true);
  });
});
