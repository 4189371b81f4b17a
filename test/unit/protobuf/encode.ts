// A tiny protobuf writer for tests: messages as lists of [fieldNumber, kind, value].
import protobuf from 'protobufjs/minimal.js';

export type PbField =
  | [number, 'varint', number | boolean]
  | [number, 'str', string]
  | [number, 'bytes', Uint8Array]
  | [number, 'msg', PbField[]];

function write(w: protobuf.Writer, fields: PbField[]): void {
  for (const f of fields) {
    const [num, kind] = f;
    switch (kind) {
      case 'varint':
        w.uint32((num << 3) | 0).int64(typeof f[2] === 'boolean' ? (f[2] ? 1 : 0) : f[2]);
        break;
      case 'str':
        w.uint32((num << 3) | 2).string(f[2]);
        break;
      case 'bytes':
        w.uint32((num << 3) | 2).bytes(f[2]);
        break;
      case 'msg':
        w.uint32((num << 3) | 2).fork();
        write(w, f[2]);
        w.ldelim();
        break;
    }
  }
}

export function encode(fields: PbField[]): Buffer {
  const w = protobuf.Writer.create();
  write(w, fields);
  return Buffer.from(w.finish());
}

/** "k8s\0" + runtime.Unknown{typeMeta, raw, ...extra}. */
export function envelope(apiVersion: string, kind: string, raw: PbField[] | Buffer, extra: PbField[] = []): Buffer {
  const rawBytes = Buffer.isBuffer(raw) ? raw : encode(raw);
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), encode([[1, 'msg', [[1, 'str', apiVersion], [2, 'str', kind]]], [2, 'bytes', rawBytes], ...extra])]);
}
