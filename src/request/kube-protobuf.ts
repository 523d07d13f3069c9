// Just enough of Kubernetes' protobuf encoding to read the small review objects kubectl sends as
// `application/vnd.kubernetes.protobuf` (client-go prefers protobuf for built-in types): the 4-byte magic
// "k8s\0", a runtime.Unknown envelope {typeMeta, raw}, and the review's spec inside raw. kgate answers in JSON,
// which client-go also accepts.
import { KgateError } from '../errors.ts';

type Fields = Map<number, (Buffer | bigint)[]>;

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length || shift > 63n) throw new Error('truncated varint');
    const byte = buf[pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

/** Decode one message level: field number -> values (length-delimited as Buffer, varints as bigint). */
function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: Buffer | bigint;
    if (wire === 0) { [value, pos] = readVarint(buf, p1); }
    else if (wire === 2) {
      const [len, p2] = readVarint(buf, p1);
      const end = p2 + Number(len);
      if (end > buf.length) throw new Error('truncated field');
      value = buf.subarray(p2, end);
      pos = end;
    } else if (wire === 1) { value = buf.subarray(p1, p1 + 8); pos = p1 + 8; }
    else if (wire === 5) { value = buf.subarray(p1, p1 + 4); pos = p1 + 4; }
    else throw new Error(`unsupported wire type ${wire}`);
    (out.get(field) ?? out.set(field, []).get(field)!).push(value);
  }
  return out;
}

const str = (f: Fields, n: number): string | undefined => { const v = f.get(n)?.[0]; return Buffer.isBuffer(v) ? v.toString('utf8') : undefined; };
const msg = (f: Fields, n: number): Fields | undefined => { const v = f.get(n)?.[0]; return Buffer.isBuffer(v) ? fields(v) : undefined; };

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** A SelfSubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview in protobuf, as the JSON object shape. */
export function decodeReviewProtobuf(body: Buffer): { kind: string; apiVersion: string; spec?: Record<string, unknown> } {
  try {
    if (!body.subarray(0, 4).equals(MAGIC)) throw new Error('missing the k8s protobuf magic');
    const unknown = fields(body.subarray(4));
    const typeMeta = msg(unknown, 1);
    const kind = typeMeta ? str(typeMeta, 2) ?? '' : '';
    const apiVersion = typeMeta ? str(typeMeta, 1) ?? '' : '';
    const raw = unknown.get(2)?.[0];
    const obj = Buffer.isBuffer(raw) ? fields(raw) : new Map();
    const spec = msg(obj, 2);
    if (!spec || kind === 'SelfSubjectReview') return { kind, apiVersion };
    if (kind === 'SelfSubjectRulesReview') return { kind, apiVersion, spec: { namespace: str(spec, 1) ?? '' } };
    const ra = msg(spec, 1);
    const nra = msg(spec, 2);
    const out: Record<string, unknown> = {};
    if (ra) {
      out.resourceAttributes = Object.fromEntries(['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name']
        .map((name, i) => [name, str(ra, i + 1)]).filter(([, v]) => v !== undefined));
    }
    if (nra) out.nonResourceAttributes = { path: str(nra, 1) ?? '', verb: str(nra, 2) ?? '' };
    return { kind, apiVersion, spec: out };
  } catch (err) {
    throw new KgateError('KGATE_BAD_REQUEST', `the protobuf request body cannot be decoded: ${(err as Error).message}`);
  }
}
