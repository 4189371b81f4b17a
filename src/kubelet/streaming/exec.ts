// The kubelet streaming server's exec and attach: protocol handling only. How the command runs is
// the caller's `run(io, signal)`; this file negotiates the stream protocol (WebSocket channel
// protocols v5/v4/legacy incl. base64, or SPDY/3.1 with X-Stream-Protocol-Version v5..v1), builds
// the ExecIO, and reports the outcome on the error stream exactly as kubectl expects.
import type { IncomingMessage } from 'node:http';
import { Readable, Writable, type Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { StatusError, isStatusError } from '../../machinery/errors.js';
import type { ExecIO } from '../runtime/types.js';
import { spdyOverSocket, type SpdySession, type SpdyStream } from './spdy.js';
import {
  acceptSpdy,
  acceptWebSocket,
  isSpdyRequest,
  isWebSocketRequest,
  negotiate,
  notUpgradeError,
  offeredStreamProtocols,
  offeredWebSocketProtocols,
  rejectUpgrade,
} from './upgrade.js';

export interface ExecRequest {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export type ExecRunner = (io: ExecIO, signal: AbortSignal) => Promise<number>;

/** WebSocket subprotocols (upstream's remotecommand list; '' = none offered = legacy binary). */
export const WEBSOCKET_EXEC_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
] as const;

/** SPDY X-Stream-Protocol-Version values for exec/attach. */
export const SPDY_EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;

// WebSocket channel ids.
const CH_STDIN = 0;
const CH_STDOUT = 1;
const CH_STDERR = 2;
const CH_ERROR = 3;
const CH_RESIZE = 4;
const CH_CLOSE = 255;

/** How long the client may take to open every expected SPDY stream (upstream: 30 s). */
const STREAM_CREATION_TIMEOUT_MS = 30_000;
/** How long to wait, after the status was sent, for the client to hang up before we do. */
const CLIENT_CLOSE_GRACE_MS = 10_000;
/** Upper bound for flushing output once the command finished. */
const FLUSH_TIMEOUT_MS = 30_000;

function parseBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '') return false;
  switch (v.toLowerCase()) {
    case 'true':
    case '1':
    case 't':
      return true;
    case 'false':
    case '0':
    case 'f':
      return false;
    default:
      throw new StatusError(400, 'BadRequest', `invalid value for ${name}: "${v}" (expected true or false)`);
  }
}

function parseStreams(q: URLSearchParams): Omit<ExecRequest, 'command'> {
  const tty = parseBool(q, 'tty');
  const stdin = parseBool(q, 'stdin');
  const stdout = parseBool(q, 'stdout');
  // With a terminal stdout and stderr are one stream; upstream bypasses stderr (kubectl does not ask for it).
  const wantStderr = parseBool(q, 'stderr');
  const stderr = wantStderr && !tty;
  if (!stdin && !stdout && !wantStderr) {
    throw new StatusError(400, 'BadRequest', 'you must specify at least 1 of stdin, stdout, stderr');
  }
  return { stdin, stdout, stderr, tty };
}

/** Query of `/exec/<ns>/<pod>/<container>` (the parameters kubectl sent to pods/<name>/exec). */
export function parseExecQuery(q: URLSearchParams): ExecRequest {
  const command = q.getAll('command');
  if (command.length === 0 || command[0] === '') {
    throw new StatusError(400, 'BadRequest', 'you must specify at least one command for the container');
  }
  return { command, ...parseStreams(q) };
}

/** Query of `/attach/<ns>/<pod>/<container>`: the same streams, no command. */
export function parseAttachQuery(q: URLSearchParams): ExecRequest {
  return { command: [], ...parseStreams(q) };
}

/** metav1.Status as upstream's remotecommand writes it (no TypeMeta). */
export interface StreamStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes?: { reason: string; message: string }[] };
  code?: number;
}

export function exitStatus(code: number): StreamStatus {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function errorStatus(e: unknown): StreamStatus {
  if (isStatusError(e)) return { metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code };
  const message = e instanceof Error ? e.message : String(e);
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', code: 500 };
}

/** The error-stream payload: JSON Status for v4/v5, plain text (failures only) before. */
function encodeStatus(status: StreamStatus, json: boolean): Buffer {
  if (json) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? Buffer.alloc(0) : Buffer.from(status.message ?? 'error');
}

/** Incremental parser for the resize stream: `{"Width":w,"Height":h}` objects, newline-separated. */
class ResizeDecoder {
  private buf = '';
  private last: { width: number; height: number } | undefined;
  private readonly listeners: ((size: { width: number; height: number }) => void)[] = [];

  register = (listener: (size: { width: number; height: number }) => void): void => {
    this.listeners.push(listener);
    if (this.last) listener(this.last);
  };

  feed(chunk: Buffer): void {
    this.buf += chunk.toString('utf8');
    const lines = this.buf.split('\n');
    this.buf = lines.pop() ?? '';
    if (this.buf.trim()) {
      // A complete object without its newline (some clients): take it if it parses.
      try {
        JSON.parse(this.buf);
        lines.push(this.buf);
        this.buf = '';
      } catch {
        /* wait for more */
      }
    }
    for (const line of lines) {
      if (!line.trim()) continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        continue;
      }
      const o = v as { Width?: unknown; Height?: unknown; width?: unknown; height?: unknown };
      const width = Number(o.Width ?? o.width);
      const height = Number(o.Height ?? o.height);
      if (!Number.isFinite(width) || !Number.isFinite(height) || width < 0 || height < 0) continue;
      this.last = { width, height };
      for (const l of this.listeners) {
        try {
          l(this.last);
        } catch {
          /* a listener's failure is its own */
        }
      }
    }
  }
}

function endAndWait(w: Writable | undefined, last?: Buffer): Promise<void> {
  if (!w || w.writableFinished || w.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, FLUSH_TIMEOUT_MS);
    timer.unref();
    function done() {
      clearTimeout(timer);
      w!.off('finish', done);
      w!.off('close', done);
      w!.off('error', done);
      resolve();
    }
    w.on('finish', done);
    w.on('close', done);
    w.on('error', done);
    if (!w.writableEnded) {
      if (last && last.length > 0) w.end(last);
      else w.end();
    }
  });
}

async function runSafely(run: ExecRunner, io: ExecIO, signal: AbortSignal): Promise<StreamStatus> {
  try {
    const code = await run(io, signal);
    return exitStatus(Number.isInteger(code) ? code : 0);
  } catch (e) {
    return errorStatus(e);
  }
}

/**
 * Serve an exec (or attach) upgrade: negotiate, run, report the exit status, close.
 * Refuses (HTTP 400 with a Status body) requests that are neither WebSocket nor SPDY/3.1.
 */
export function serveExecUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, exec: ExecRequest, run: ExecRunner): void {
  socket.on('error', () => {});
  if (isWebSocketRequest(req)) {
    const offered = offeredWebSocketProtocols(req);
    const protocol = offered.length === 0 ? '' : negotiate(offered, WEBSOCKET_EXEC_PROTOCOLS);
    if (protocol === undefined) {
      return rejectUpgrade(
        socket,
        new StatusError(400, 'BadRequest', `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${WEBSOCKET_EXEC_PROTOCOLS.join(' ')}]`),
      );
    }
    acceptWebSocket(req, socket, head, protocol, (ws) => serveWebSocketExec(ws, protocol, exec, run));
    return;
  }
  if (isSpdyRequest(req)) {
    const offered = offeredStreamProtocols(req);
    const protocol = negotiate(offered, SPDY_EXEC_PROTOCOLS);
    if (protocol === undefined) {
      return rejectUpgrade(
        socket,
        new StatusError(403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${SPDY_EXEC_PROTOCOLS.join(' ')}]`),
        { 'X-Accepted-Stream-Protocol-Versions': SPDY_EXEC_PROTOCOLS.join(', ') },
      );
    }
    acceptSpdy(socket, protocol);
    serveSpdyExec(spdyOverSocket(socket, head), protocol, exec, run);
    return;
  }
  rejectUpgrade(socket, notUpgradeError('exec'));
}

/** Attach shares exec's machinery; `run` connects to the container's main process (the command is ignored). */
export function serveAttachUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, attach: ExecRequest, run: ExecRunner): void {
  serveExecUpgrade(req, socket, head, { ...attach, command: [] }, run);
}

// ---------------------------------------------------------------------------------------------
// WebSocket channel protocols

function serveWebSocketExec(ws: WebSocket, protocol: string, exec: ExecRequest, run: ExecRunner): void {
  const base64 = protocol.includes('base64');
  const v5 = protocol === 'v5.channel.k8s.io';
  const jsonStatus = protocol.startsWith('v4.') || v5;
  const abort = new AbortController();
  let finished = false;

  const send = (ch: number, data: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (ws.readyState !== ws.OPEN) return resolve();
      const frame = base64 ? String.fromCharCode(48 + ch) + data.toString('base64') : Buffer.concat([Buffer.from([ch]), data]);
      ws.send(frame, { binary: !base64 }, () => resolve());
    });

  const writer = (ch: number): Writable => {
    const w = new Writable({
      write(chunk: Buffer, _enc, cb) {
        send(ch, chunk).then(() => cb(), cb);
      },
    });
    w.on('error', () => {});
    return w;
  };

  let stdinPaused = false;
  let stdinEnded = false;
  const stdin = exec.stdin
    ? new Readable({
        highWaterMark: 256 * 1024,
        read() {
          if (stdinPaused) {
            stdinPaused = false;
            ws.resume();
          }
        },
      })
    : undefined;
  stdin?.on('error', () => {});
  const endStdin = () => {
    if (!stdin || stdinEnded) return;
    stdinEnded = true;
    stdin.push(null);
  };

  const resize = new ResizeDecoder();
  const io: ExecIO = {
    stdin,
    stdout: exec.stdout ? writer(CH_STDOUT) : undefined,
    stderr: exec.stderr ? writer(CH_STDERR) : undefined,
    tty: exec.tty,
    resize: exec.tty ? resize.register : undefined,
  };

  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[]) => {
    let data = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    if (data.length === 0) return;
    let ch = data[0]!;
    if (base64) {
      ch = ch - 48;
      try {
        data = Buffer.concat([Buffer.from([ch]), Buffer.from(data.subarray(1).toString('latin1'), 'base64')]);
      } catch {
        return;
      }
    }
    const payload = data.subarray(1);
    switch (ch) {
      case CH_STDIN:
        if (stdin && !stdinEnded && payload.length > 0 && !stdin.push(Buffer.from(payload)) && !stdinPaused) {
          stdinPaused = true;
          ws.pause();
        }
        return;
      case CH_RESIZE:
        if (exec.tty) resize.feed(payload);
        return;
      case CH_CLOSE:
        // v5: the client half-closed one of its streams; only stdin is client-writable.
        if (v5 && payload[0] === CH_STDIN) endStdin();
        return;
      default:
        return; // unknown or server-only channel: ignored, as upstream
    }
  });
  ws.on('close', () => {
    endStdin();
    if (!finished) abort.abort(new Error('client disconnected'));
  });
  ws.on('error', () => {});

  // Tell the client the streams are open: an empty message on the lowest writable channel (upstream does this).
  void send(exec.stdout ? CH_STDOUT : exec.stderr ? CH_STDERR : CH_ERROR, Buffer.alloc(0));

  void (async () => {
    const status = await runSafely(run, io, abort.signal);
    finished = true;
    endStdin();
    stdin?.resume();
    await Promise.all([endAndWait(io.stdout), endAndWait(io.stderr)]);
    const payload = encodeStatus(status, jsonStatus);
    if (payload.length > 0) await send(CH_ERROR, payload);
    if (ws.readyState === ws.OPEN) ws.close(1000);
    // ws waits for the client's close frame (bounded by its own timer) and then closes the socket.
  })();
}

// ---------------------------------------------------------------------------------------------
// SPDY/3.1 streams

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

function serveSpdyExec(session: SpdySession, protocol: string, exec: ExecRequest, run: ExecRunner): void {
  const version = protocol === 'channel.k8s.io' ? 1 : Number(protocol[1]);
  const expected = new Set<StreamType>(['error']);
  if (exec.stdin) expected.add('stdin');
  if (exec.stdout) expected.add('stdout');
  if (exec.stderr) expected.add('stderr');
  if (exec.tty && version >= 3) expected.add('resize');
  const streams = new Map<StreamType, SpdyStream>();
  const abort = new AbortController();
  let started = false;
  let finished = false;

  const timer = setTimeout(() => {
    if (!started) session.destroy();
  }, STREAM_CREATION_TIMEOUT_MS);
  timer.unref();

  session.on('close', () => {
    clearTimeout(timer);
    if (!finished) abort.abort(new Error('client disconnected'));
  });
  session.on('goaway', () => {
    if (finished) session.destroy();
  });

  session.on('stream', (stream) => {
    const type = stream.headers['streamtype'] as StreamType | undefined;
    if (!type || !expected.has(type) || streams.has(type) || started) {
      stream.cancel();
      return;
    }
    streams.set(type, stream);
    if (streams.size === expected.size) {
      started = true;
      clearTimeout(timer);
      void start();
    }
  });

  async function start(): Promise<void> {
    const errorStream = streams.get('error')!;
    const resizeStream = streams.get('resize');
    const resize = new ResizeDecoder();
    if (resizeStream) {
      resizeStream.on('data', (c: Buffer) => resize.feed(c));
      resizeStream.resume();
    }
    // The client never writes on the error stream; drain it so its FIN is seen.
    errorStream.resume();
    const stdin = streams.get('stdin');
    const io: ExecIO = {
      stdin,
      stdout: streams.get('stdout'),
      stderr: streams.get('stderr'),
      tty: exec.tty,
      resize: exec.tty ? resize.register : undefined,
    };
    const status = await runSafely(run, io, abort.signal);
    finished = true;
    // Nobody reads stdin any more: drain it so a full stdin buffer cannot stall the connection.
    stdin?.resume();
    await Promise.all([endAndWait(io.stdout), endAndWait(io.stderr)]);
    const payload = encodeStatus(status, version >= 4);
    await endAndWait(errorStream, payload);
    await session.flushed();
    if (session.closed || session.goneAway) {
      session.destroy();
      return;
    }
    // kubectl resets its streams and sends GOAWAY once it has read the status; give it the chance.
    const grace = setTimeout(() => void session.close(), CLIENT_CLOSE_GRACE_MS);
    grace.unref();
    session.on('close', () => clearTimeout(grace));
  }
}
