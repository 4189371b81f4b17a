// A compact server-side SPDY/3.1 session: just what kubectl's client (moby/spdystream, via
// apimachinery's httpstream/spdy) uses for exec, attach and port-forward.
//
// Frames (big-endian): control = [C=1|version 15b][type 16b][flags 8b][length 24b][payload],
// data = [C=0|stream-id 31b][flags 8b][length 24b][payload]. Header blocks are zlib-compressed with
// the SPDY/3 dictionary, one continuous zlib stream per direction for the whole connection, each
// block ended with a SYNC flush. kubectl neither sends nor honours WINDOW_UPDATE, so flow-control
// windows are ignored in both directions (as upstream's kubelet does); local backpressure is
// applied by pausing the transport instead.
//
// The session is transport-agnostic: the owner feeds received bytes with `receive()` and gives a
// `send` function; this lets the same code run over a raw upgraded socket and over SPDY tunnelled
// in WebSocket binary messages (port-forward with kubectl >= 1.31).
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6, STREAM_ALREADY_CLOSED: 9 } as const;

const MAX_DATA_FRAME = 64 * 1024;
const MAX_FRAME_LENGTH = 0xffffff;

/** One persistent zlib context used block by block (each block sync-flushed). */
class ZlibContext {
  private chunks: Buffer[] = [];
  private failure: Error | undefined;

  constructor(private readonly z: zlib.Deflate | zlib.Inflate) {
    z.on('data', (c: Buffer) => this.chunks.push(c));
    z.on('error', (e: Error) => {
      this.failure = e;
    });
  }

  /** Callers serialize their calls (one block at a time). */
  process(input: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.chunks = [];
      const onError = (e: Error) => reject(e);
      this.z.once('error', onError);
      if (input.length > 0) this.z.write(input);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.z.off('error', onError);
        if (this.failure) return reject(this.failure);
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

export type Headers = Record<string, string>;

/** Name/value block (before compression): count, then per pair name length, name, value length, value. */
export function encodeHeaderBlock(headers: Headers): Buffer {
  const parts: Buffer[] = [];
  const entries = Object.entries(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length, 0);
  parts.push(count);
  for (const [name, value] of entries) {
    for (const s of [name.toLowerCase(), value]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length, 0);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): Headers {
  const out: Headers = {};
  let off = 0;
  const need = (n: number) => {
    if (off + n > block.length) throw new Error('truncated SPDY header block');
  };
  need(4);
  const count = block.readUInt32BE(off);
  off += 4;
  for (let i = 0; i < count; i++) {
    need(4);
    const nl = block.readUInt32BE(off);
    off += 4;
    need(nl);
    const name = block.toString('utf8', off, off + nl).toLowerCase();
    off += nl;
    need(4);
    const vl = block.readUInt32BE(off);
    off += 4;
    need(vl);
    const value = block.toString('utf8', off, off + vl);
    off += vl;
    // Multiple values are NUL-separated; the first is what kubectl's headers carry.
    out[name] = out[name] === undefined ? value.split('\0')[0]! : out[name]!;
  }
  return out;
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(payload.length, 4);
  h[4] = flags;
  return Buffer.concat([h, payload]);
}

function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(streamId & 0x7fffffff, 0);
  h.writeUInt32BE(data.length, 4);
  h[4] = flags;
  return Buffer.concat([h, data]);
}

/** What a session sends bytes through; resolves when the bytes were accepted (backpressure). */
export interface SpdyTransport {
  send(buf: Buffer): Promise<void>;
  /** Stop / restart delivering received bytes (local backpressure). */
  pause(): void;
  resume(): void;
  /** Close the underlying connection (after pending sends). */
  end(): void;
  destroy(): void;
}

/** A client-initiated stream. Readable side: the peer's DATA (ends at its FIN); writable side: ours (end() sends FIN). */
export class SpdyStream extends Duplex {
  remoteClosed = false;
  localClosed = false;
  reset = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: Headers,
  ) {
    super({ allowHalfOpen: true });
    // Writes after a reset are dropped by the session; never crash on a stray error.
    this.on('error', () => {});
  }

  override _read(): void {
    this.session.streamWantsData(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.session.sendData(this, chunk, false).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.session.sendData(this, Buffer.alloc(0), true).then(() => cb(), cb);
  }

  /** Abort the stream (RST_STREAM CANCEL). */
  cancel(status: number = RstStatus.CANCEL): void {
    this.session.resetStream(this, status);
  }

  /** @internal */
  deliver(data: Buffer): boolean {
    if (this.remoteClosed || this.destroyed) return true;
    return this.push(data);
  }

  /** @internal */
  deliverEnd(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    if (!this.destroyed) this.push(null);
  }
}

export interface SpdySessionEvents {
  stream: [SpdyStream];
  goaway: [];
  close: [];
}

/**
 * Server side of a SPDY/3.1 connection. Emits 'stream' for every SYN_STREAM (already answered
 * with SYN_REPLY unless `autoReply` is false), 'goaway' when the client says goodbye, 'close' once.
 */
export class SpdySession extends EventEmitter<SpdySessionEvents> {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflater = new ZlibContext(zlib.createInflate({ dictionary: SPDY3_DICTIONARY }));
  private readonly deflater = new ZlibContext(zlib.createDeflate({ dictionary: SPDY3_DICTIONARY }));
  private inBuf: Buffer = Buffer.alloc(0);
  private inChain: Promise<void> = Promise.resolve();
  private outChain: Promise<void> = Promise.resolve();
  private readonly blocked = new Set<SpdyStream>();
  private lastStreamId = 0;
  closed = false;
  goneAway = false;

  constructor(private readonly transport: SpdyTransport) {
    super();
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Bytes from the transport. */
  receive(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    this.inBuf = this.inBuf.length ? Buffer.concat([this.inBuf, chunk]) : chunk;
    while (this.inBuf.length >= 8) {
      const length = this.inBuf.readUInt32BE(4) & 0xffffff;
      if (this.inBuf.length < 8 + length) break;
      const frame = this.inBuf.subarray(0, 8 + length);
      this.inBuf = this.inBuf.subarray(8 + length);
      this.inChain = this.inChain.then(() => this.handleFrame(frame)).catch((e: unknown) => this.fail(e));
    }
  }

  /** The transport ended or failed. */
  transportClosed(): void {
    this.shutdown();
  }

  /** Send GOAWAY and close the transport once everything queued so far is written. */
  async close(): Promise<void> {
    if (this.closed) return;
    const last = Buffer.alloc(8);
    last.writeUInt32BE(this.lastStreamId & 0x7fffffff, 0);
    last.writeUInt32BE(0, 4);
    await this.enqueue(() => controlFrame(FrameType.GOAWAY, 0, last));
    await this.outChain;
    this.transport.end();
    this.shutdown();
  }

  destroy(): void {
    this.transport.destroy();
    this.shutdown();
  }

  /** Resolves when every frame received so far has been handled. */
  processed(): Promise<void> {
    return this.inChain;
  }

  /** Resolves when all frames queued so far were handed to the transport. */
  flushed(): Promise<void> {
    return this.outChain;
  }

  /** @internal */
  sendData(stream: SpdyStream, data: Buffer, fin: boolean): Promise<void> {
    if (stream.localClosed || stream.reset) return Promise.resolve();
    if (fin) stream.localClosed = true;
    const frames: Buffer[] = [];
    if (data.length === 0) frames.push(dataFrame(stream.id, fin ? FLAG_FIN : 0, data));
    for (let off = 0; off < data.length; off += MAX_DATA_FRAME) {
      const part = data.subarray(off, Math.min(data.length, off + MAX_DATA_FRAME));
      const last = off + MAX_DATA_FRAME >= data.length;
      frames.push(dataFrame(stream.id, fin && last ? FLAG_FIN : 0, part));
    }
    const p = this.enqueue(() => Buffer.concat(frames));
    if (fin) void p.then(() => this.maybeForget(stream));
    return p;
  }

  /** @internal */
  resetStream(stream: SpdyStream, status: number): void {
    if (stream.reset) return;
    stream.reset = true;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(stream.id & 0x7fffffff, 0);
    payload.writeUInt32BE(status, 4);
    void this.enqueue(() => controlFrame(FrameType.RST_STREAM, 0, payload));
    this.forget(stream);
    stream.destroy();
  }

  /** @internal: a stream's reader wants more; resume the transport when nobody is blocked. */
  streamWantsData(stream: SpdyStream): void {
    if (this.blocked.delete(stream) && this.blocked.size === 0 && !this.closed) this.transport.resume();
  }

  private enqueue(build: () => Buffer | Promise<Buffer>): Promise<void> {
    const p = this.outChain.then(async () => {
      if (this.closed) return;
      const buf = await build();
      if (this.closed) return;
      await this.transport.send(buf);
    });
    this.outChain = p.catch(() => {});
    return p;
  }

  private async handleFrame(frame: Buffer): Promise<void> {
    if (this.closed) return;
    const flags = frame[4]!;
    const payload = frame.subarray(8);
    if ((frame[0]! & 0x80) === 0) {
      const id = frame.readUInt32BE(0) & 0x7fffffff;
      const stream = this.streams.get(id);
      if (!stream) return; // DATA for an unknown or reset stream: dropped, as spdystream does
      if (payload.length > 0 && !stream.deliver(Buffer.from(payload))) {
        if (this.blocked.size === 0) this.transport.pause();
        this.blocked.add(stream);
      }
      if (flags & FLAG_FIN) {
        stream.deliverEnd();
        this.maybeForget(stream);
      }
      return;
    }
    const version = frame.readUInt16BE(0) & 0x7fff;
    const type = frame.readUInt16BE(2);
    if (version !== SPDY_VERSION) throw new Error(`unsupported SPDY version ${version}`);
    switch (type) {
      case FrameType.SYN_STREAM: {
        const id = payload.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.inflater.process(payload.subarray(10)));
        if (this.goneAway || this.streams.has(id)) return;
        this.lastStreamId = Math.max(this.lastStreamId, id);
        const stream = new SpdyStream(this, id, headers);
        this.streams.set(id, stream);
        if (flags & FLAG_UNIDIRECTIONAL) stream.localClosed = true;
        // Reply first (kubectl waits for SYN_REPLY before creating its next stream).
        const idBuf = Buffer.alloc(4);
        idBuf.writeUInt32BE(id, 0);
        void this.enqueue(async () =>
          controlFrame(FrameType.SYN_REPLY, 0, Buffer.concat([idBuf, await this.deflater.process(encodeHeaderBlock({}))])),
        );
        if (flags & FLAG_FIN) stream.deliverEnd();
        this.emit('stream', stream);
        return;
      }
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS: {
        // Keep the inflate context in step even though we have no use for these headers.
        await this.inflater.process(payload.subarray(4));
        if (flags & FLAG_FIN) {
          const stream = this.streams.get(payload.readUInt32BE(0) & 0x7fffffff);
          if (stream) {
            stream.deliverEnd();
            this.maybeForget(stream);
          }
        }
        return;
      }
      case FrameType.RST_STREAM: {
        const stream = this.streams.get(payload.readUInt32BE(0) & 0x7fffffff);
        if (stream) {
          stream.reset = true;
          this.forget(stream);
          stream.destroy();
        }
        return;
      }
      case FrameType.PING:
        // Echo the id back unchanged.
        void this.enqueue(() => controlFrame(FrameType.PING, 0, Buffer.from(payload.subarray(0, 4))));
        return;
      case FrameType.GOAWAY:
        this.goneAway = true;
        this.emit('goaway');
        return;
      case FrameType.SETTINGS:
      case FrameType.WINDOW_UPDATE:
      default:
        return;
    }
  }

  private maybeForget(stream: SpdyStream): void {
    if (stream.remoteClosed && stream.localClosed) this.forget(stream);
  }

  private forget(stream: SpdyStream): void {
    this.streams.delete(stream.id);
    if (this.blocked.delete(stream) && this.blocked.size === 0 && !this.closed) this.transport.resume();
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    void e;
    this.destroy();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) {
      s.reset = true;
      s.deliverEnd();
      s.destroy();
    }
    this.streams.clear();
    this.blocked.clear();
    this.inflater.close();
    this.deflater.close();
    this.emit('close');
  }
}

/** A transport over an upgraded TCP socket. */
export function socketTransport(socket: import('node:stream').Duplex): SpdyTransport {
  return {
    send(buf) {
      return new Promise((resolve) => {
        if (socket.destroyed || !socket.writable) return resolve();
        if (socket.write(buf)) return resolve();
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
}

/** Wire a session to an upgraded socket (with the bytes already read after the request head). */
export function spdyOverSocket(socket: import('node:stream').Duplex, head: Buffer): SpdySession {
  const session = new SpdySession(socketTransport(socket));
  socket.on('data', (c: Buffer) => session.receive(c));
  socket.on('end', () => {
    // The client hung up (upgraded server sockets are half-open capable): finish our side too.
    session.transportClosed();
    socket.end();
  });
  session.on('close', () => {
    if (!socket.destroyed && !socket.writableEnded) socket.end();
    setTimeout(() => socket.destroy(), 5000).unref();
  });
  socket.on('close', () => session.transportClosed());
  socket.on('error', () => session.transportClosed());
  if (head.length) session.receive(head);
  return session;
}

export { MAX_FRAME_LENGTH };
