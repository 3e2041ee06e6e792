import {
  BASIC_IDS,
  FIRST_USER_ID,
  GobError,
  WIRE_TYPE,
  goTypeString,
  type GoArray,
  type GoComplex,
  type GoMap,
  type GoSlice,
  type GoStruct,
  type GoType,
} from './gob-types.js';

const TWO_64 = 1n << 64n;
const TWO_63 = 1n << 63n;
/** Past this magnitude an int's zig-zag form is not exact in a double: go through bigint. */
const NUMBER_INT_LIMIT = 2 ** 52;

/** An append-only byte buffer that doubles as it grows. */
class Writer {
  buf: Buffer;
  len = 0;

  constructor(size = 64) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  utf8(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.uint(n);
    this.room(n);
    this.len += this.buf.write(s, this.len, n, 'utf8');
  }

  /** gob's unsigned integer: one byte below 128, else minus the byte count then big-endian bytes. */
  uint(v: number | bigint): void {
    if (typeof v === 'number') {
      if (v < 128) {
        this.byte(v);
        return;
      }
      let n = 0;
      for (let x = v; x > 0; x = Math.floor(x / 256)) n++;
      this.room(n + 1);
      this.buf[this.len] = 256 - n;
      for (let i = n, x = v; i > 0; i--, x = Math.floor(x / 256)) this.buf[this.len + i] = x % 256;
      this.len += n + 1;
      return;
    }
    if (v < 128n) {
      this.byte(Number(v));
      return;
    }
    let n = 0;
    for (let x = v; x > 0n; x >>= 8n) n++;
    this.room(n + 1);
    this.buf[this.len] = 256 - n;
    for (let i = n, x = v; i > 0; i--, x >>= 8n) this.buf[this.len + i] = Number(x & 0xffn);
    this.len += n + 1;
  }

  /** gob's signed integer: bit 0 says whether the rest is complemented. */
  int(v: number | bigint): void {
    if (typeof v === 'number' && Math.abs(v) < NUMBER_INT_LIMIT) {
      this.uint(v < 0 ? (-v - 1) * 2 + 1 : v * 2);
      return;
    }
    const b = BigInt(v);
    this.uint(b < 0n ? ((-b - 1n) << 1n) | 1n : b << 1n);
  }

  /** A float64 is sent as the unsigned integer of its byte-reversed IEEE 754 bits. */
  float(v: number): void {
    this.room(9);
    const at = this.len + 1;
    // Little-endian bits are the byte-reversed value, most significant byte first.
    this.buf.writeDoubleLE(v, at);
    let first = at;
    while (first < at + 8 && this.buf[first] === 0) first++;
    const n = at + 8 - first;
    if (n === 0) {
      this.buf[this.len++] = 0;
    } else if (n === 1 && this.buf[first]! < 128) {
      this.buf[this.len++] = this.buf[first]!;
    } else {
      this.buf[this.len] = 256 - n;
      this.buf.copyWithin(this.len + 1, first, at + 8);
      this.len += n + 1;
    }
  }

  /** Appends `msg` preceded by its length, and empties it: gob's framing of a message. */
  message(msg: Writer): void {
    this.uint(msg.len);
    this.raw(msg.buf.subarray(0, msg.len));
    msg.len = 0;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** A type built on this stream: its id and its wireType description. */
interface Built {
  id: number;
  wire: Record<string, unknown>;
}

const structIds = new WeakMap<GoStruct, number>();
let nextStructKey = 0;
const keys = new WeakMap<GoType, string>();

/** A key naming a Go type: structs by identity, the rest by structure (and name if named). */
function typeKey(t: GoType): string {
  let k = keys.get(t);
  if (k !== undefined) return k;
  switch (t.kind) {
    case 'struct': {
      let id = structIds.get(t);
      if (id === undefined) structIds.set(t, (id = nextStructKey++));
      k = `struct#${id}`;
      break;
    }
    case 'slice':
      k = `[]${typeKey(t.elem)}`;
      break;
    case 'array':
      k = `[${t.len}]${typeKey(t.elem)}`;
      break;
    case 'map':
      k = `map[${typeKey(t.key)}]${typeKey(t.elem)}`;
      break;
    default:
      k = t.kind;
  }
  if (t.kind !== 'struct' && 'name' in t && t.name !== undefined) k = `${t.name}=${k}`;
  keys.set(t, k);
  return k;
}

const isBasic = (t: GoType): boolean => t.kind in BASIC_IDS;
const namedName = (t: GoType): string | undefined => (t.kind === 'struct' ? t.name : 'name' in t ? t.name : undefined);

/**
 * One direction of a gob stream. Each encode() returns the bytes of one value (Go's
 * Encoder.Encode): the definitions of types this stream has not sent yet, then the value.
 * The bytes must be written to the stream in the order they were returned.
 */
export class GobEncoder {
  private readonly built = new Map<string, Built>();
  private readonly sent = new Set<string>();
  private nextId = FIRST_USER_ID;
  /** Types marked sent during the current encode(), forgotten if it fails. */
  private sentNow: string[] = [];
  /** Where type definitions go: the stream, or an enclosing interface value (as Go does). */
  private writers: Writer[] = [];

  encode(type: GoType, value: unknown): Buffer {
    const out = new Writer(256);
    const b = new Writer();
    this.writers = [out];
    this.sentNow = [];
    try {
      this.sendTypeDescriptor(out, b, type);
      b.int(this.idOf(type));
      this.encodeTop(b, type, value);
      out.message(b);
    } catch (err) {
      for (const k of this.sentNow) this.sent.delete(k);
      if (err instanceof GobError) {
        const path = (err as GobError & { [PATH]?: string })[PATH];
        if (path) err.message = err.message.replace(/^gob: /, `gob: in ${structOrTypeName(type)}${path}: `);
        throw err;
      }
      if (err instanceof RangeError) throw new GobError(`gob: encode: ${err.message} (a cyclic value?)`);
      throw err;
    } finally {
      this.sentNow = [];
      this.writers = [];
    }
    return out.bytes();
  }

  /** The type id on this stream, building the type (and the types in it) the first time. */
  private idOf(t: GoType): number {
    return isBasic(t) ? BASIC_IDS[t.kind as keyof typeof BASIC_IDS] : this.build(t, namedName(t) ?? '').id;
  }

  /**
   * Builds a type's description with ids handed out in Go's order (a struct takes its id
   * before its fields, slices, arrays and maps after their elements) and its name as Go
   * gives it in that place, so that a fresh stream carries the bytes Go's would.
   */
  private build(t: GoType, name: string): Built {
    if (isBasic(t)) return { id: BASIC_IDS[t.kind as keyof typeof BASIC_IDS], wire: {} };
    const key = typeKey(t);
    const seen = this.built.get(key);
    if (seen) return seen;
    const entry: Built = { id: 0, wire: {} };
    this.built.set(key, entry);
    switch (t.kind) {
      case 'struct': {
        entry.id = ++this.nextId;
        const fields: { Name: string; Id: number }[] = [];
        entry.wire = { StructT: { CommonType: { Name: name, Id: entry.id }, Field: fields } };
        for (const [fname, ftype] of t.fields) {
          const f = this.build(ftype, namedName(ftype) || goTypeString(ftype));
          if (f.id === 0) f.id = ++this.nextId;
          fields.push({ Name: fname, Id: f.id });
        }
        break;
      }
      case 'slice': {
        const elem = this.build(t.elem, namedName(t.elem) ?? '');
        if (entry.id === 0) entry.id = ++this.nextId;
        if (elem.id === 0) elem.id = ++this.nextId;
        entry.wire = { SliceT: { CommonType: { Name: name, Id: entry.id }, Elem: elem.id } };
        break;
      }
      case 'array': {
        const elem = this.build(t.elem, '');
        if (entry.id === 0) entry.id = ++this.nextId;
        entry.wire = { ArrayT: { CommonType: { Name: name, Id: entry.id }, Elem: elem.id, Len: t.len } };
        break;
      }
      case 'map': {
        const key2 = this.build(t.key, '');
        const elem = this.build(t.elem, '');
        if (entry.id === 0) entry.id = ++this.nextId;
        entry.wire = { MapT: { CommonType: { Name: name, Id: entry.id }, Key: key2.id, Elem: elem.id } };
        break;
      }
    }
    return entry;
  }

  /** Defines `t` (then the types in it) on the stream unless already done: one message each. */
  private sendTypeDescriptor(w: Writer, b: Writer, t: GoType): void {
    if (isBasic(t)) return;
    const key = typeKey(t);
    if (this.sent.has(key)) return;
    this.idOf(t);
    this.sendType(w, b, t);
  }

  private sendType(w: Writer, b: Writer, t: GoType): void {
    if (isBasic(t)) return;
    const key = typeKey(t);
    if (this.sent.has(key)) return;
    const entry = this.built.get(key)!;
    // Flushing `b` as Go does: the part of a value already in it goes out ahead of the definition.
    b.int(-entry.id);
    this.encodeStruct(b, WIRE_TYPE, entry.wire);
    w.message(b);
    this.sent.add(key);
    this.sentNow.push(key);
    switch (t.kind) {
      case 'struct':
        for (const [, ftype] of t.fields) this.sendType(w, b, ftype);
        break;
      case 'slice':
      case 'array':
        this.sendType(w, b, t.elem);
        break;
      case 'map':
        this.sendType(w, b, t.key);
        this.sendType(w, b, t.elem);
        break;
    }
  }

  /** A value as gob sends it on its own: a struct's fields, or anything else as field 0. */
  private encodeTop(b: Writer, t: GoType, v: unknown): void {
    if (t.kind === 'struct') {
      if (v === null || v === undefined) throw new GobError(`gob: cannot encode a nil ${structName(t)}`);
      this.encodeStruct(b, t, v);
      return;
    }
    if ((v === null || v === undefined) && t.kind !== 'interface') throw new GobError(`gob: cannot encode a nil ${goTypeString(t)}`);
    b.uint(0);
    this.encodeValue(b, t, v);
  }

  private encodeStruct(b: Writer, t: GoStruct, v: unknown): void {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || Buffer.isBuffer(v) || v instanceof Map) {
      throw new GobError(`gob: ${structName(t)} needs an object, got ${describe(v)}`);
    }
    const obj = v as Record<string, unknown>;
    const fields = t.fields;
    let known = 0;
    let last = -1;
    for (let i = 0; i < fields.length; i++) {
      const [name, ft] = fields[i]!;
      const fv = obj[name];
      if (fv === undefined && !Object.hasOwn(obj, name)) continue;
      known++;
      if (fv === null || fv === undefined || isZero(ft, fv)) continue;
      b.uint(i - last);
      last = i;
      try {
        this.encodeValue(b, ft, fv);
      } catch (err) {
        throw inField(err, `.${name}`);
      }
    }
    if (known !== Object.keys(obj).length) {
      const extra = Object.keys(obj).find((k) => obj[k] !== undefined && !fields.some(([n]) => n === k));
      if (extra !== undefined) throw new GobError(`gob: ${structName(t)} has no field ${JSON.stringify(extra)}`);
    }
    b.uint(0);
  }

  private encodeValue(b: Writer, t: GoType, v: unknown): void {
    switch (t.kind) {
      case 'bool':
        if (typeof v !== 'boolean') throw mismatch('bool', v);
        b.uint(v ? 1 : 0);
        return;
      case 'int':
        b.int(checkInt(v, true));
        return;
      case 'uint':
        b.uint(checkInt(v, false));
        return;
      case 'float':
        if (typeof v !== 'number') throw mismatch('float', v);
        b.float(v);
        return;
      case 'complex': {
        const c = v as GoComplex;
        if (typeof c !== 'object' || c === null || typeof c.re !== 'number' || typeof c.im !== 'number') throw mismatch('complex ({ re, im })', v);
        b.float(c.re);
        b.float(c.im);
        return;
      }
      case 'string':
        if (typeof v !== 'string') throw mismatch('string', v);
        b.utf8(v);
        return;
      case 'bytes':
        if (!(v instanceof Uint8Array)) throw mismatch('[]byte (Buffer or Uint8Array)', v);
        b.uint(v.length);
        b.raw(v);
        return;
      case 'interface':
        this.encodeInterface(b, v);
        return;
      case 'struct':
        this.encodeStruct(b, t, v);
        return;
      case 'slice':
      case 'array':
        this.encodeList(b, t, v);
        return;
      case 'map':
        this.encodeMap(b, t, v);
        return;
    }
  }

  private encodeList(b: Writer, t: GoSlice | GoArray, v: unknown): void {
    if (!Array.isArray(v)) throw mismatch(goTypeString(t), v);
    if (t.kind === 'array' && v.length !== t.len) throw new GobError(`gob: ${goTypeString(t)} needs ${t.len} elements, got ${v.length}`);
    b.uint(v.length);
    for (let i = 0; i < v.length; i++) {
      try {
        this.encodeElem(b, t.elem, v[i]);
      } catch (err) {
        throw inField(err, `[${i}]`);
      }
    }
  }

  private encodeMap(b: Writer, t: GoMap, v: unknown): void {
    let entries: Iterable<[unknown, unknown]>;
    let size: number;
    if (v instanceof Map) {
      entries = v.entries();
      size = v.size;
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && t.key.kind === 'string') {
      const e = Object.entries(v);
      entries = e;
      size = e.length;
    } else {
      throw mismatch(`${goTypeString(t)} (a Map${t.key.kind === 'string' ? ' or a plain object' : ''})`, v);
    }
    b.uint(size);
    for (const [k, x] of entries) {
      try {
        this.encodeElem(b, t.key, k);
        this.encodeElem(b, t.elem, x);
      } catch (err) {
        throw inField(err, `[${typeof k === 'string' ? JSON.stringify(k) : String(k)}]`);
      }
    }
  }

  /** An element of a slice, array or map: always sent, even when zero; never nil but for interfaces. */
  private encodeElem(b: Writer, t: GoType, v: unknown): void {
    if ((v === null || v === undefined) && t.kind !== 'interface') throw new GobError(`gob: nil element of type ${goTypeString(t)}`);
    this.encodeValue(b, t, v);
  }

  /** The concrete type's name, its definition if new, its id, then the value with its length. */
  private encodeInterface(b: Writer, v: unknown): void {
    if (v === null || v === undefined) {
      b.uint(0);
      return;
    }
    const iv = v as { goType?: unknown; type?: unknown; value?: unknown };
    if (typeof iv !== 'object' || typeof iv.goType !== 'string' || !iv.goType || typeof iv.type !== 'object' || iv.type === null || !('kind' in iv.type)) {
      throw new GobError(`gob: an interface value needs { goType, type, value } or null, got ${describe(v)}`);
    }
    if (iv.value === null || iv.value === undefined) throw new GobError(`gob: cannot encode a nil value of type ${iv.goType} inside an interface`);
    const type = iv.type as GoType;
    b.utf8(iv.goType);
    this.sendTypeDescriptor(this.writers[this.writers.length - 1]!, b, type);
    b.int(this.idOf(type));
    this.writers.push(b);
    const data = new Writer();
    try {
      this.encodeTop(data, type, iv.value);
    } catch (err) {
      throw inField(err, `(${iv.goType})`);
    } finally {
      this.writers.pop();
    }
    b.message(data);
  }
}

/** A struct field gob leaves out: the zero value of its type (arrays and structs are always sent). */
function isZero(t: GoType, v: unknown): boolean {
  switch (t.kind) {
    case 'bool':
      return v === false;
    case 'int':
    case 'uint':
      return v === 0 || v === 0n;
    case 'float':
      return v === 0;
    case 'complex':
      return typeof v === 'object' && (v as GoComplex).re === 0 && (v as GoComplex).im === 0;
    case 'string':
      return v === '';
    case 'bytes':
    case 'slice':
      return (v instanceof Uint8Array || Array.isArray(v)) && v.length === 0;
    default:
      // A map is sent when empty (only a nil one is left out); an interface when non-nil.
      return false;
  }
}

function checkInt(v: unknown, signed: boolean): number | bigint {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw mismatch(signed ? 'int' : 'uint', v);
    if (Number.isSafeInteger(v)) {
      if (!signed && v < 0) throw new GobError(`gob: ${v} is negative for a uint`);
      return v;
    }
    v = BigInt(v);
  }
  if (typeof v !== 'bigint') throw mismatch(signed ? 'int' : 'uint', v);
  if (signed ? v < -TWO_63 || v >= TWO_63 : v < 0n || v >= TWO_64) throw new GobError(`gob: ${v} is out of range for ${signed ? 'an int64' : 'a uint64'}`);
  return v;
}

const structName = (t: GoStruct): string => t.name || goTypeString(t);
const structOrTypeName = (t: GoType): string => (t.kind === 'struct' ? structName(t) : goTypeString(t));

function mismatch(want: string, v: unknown): GobError {
  return new GobError(`gob: expected ${want}, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a Buffer';
  if (v instanceof Map) return 'a Map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

const PATH = Symbol('gob path');

/** Notes where in the value an encoding error happened; encode() puts it in the message. */
function inField(err: unknown, segment: string): unknown {
  if (err instanceof GobError) {
    const e = err as GobError & { [PATH]?: string };
    e[PATH] = segment + (e[PATH] ?? '');
  }
  return err;
}
