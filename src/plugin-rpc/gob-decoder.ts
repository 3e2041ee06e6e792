import {
  BASIC_IDS,
  FIRST_USER_ID,
  GobError,
  ID_BOOL,
  ID_BYTES,
  ID_COMPLEX,
  ID_FLOAT,
  ID_INT,
  ID_INTERFACE,
  ID_STRING,
  ID_UINT,
  ID_WIRE_TYPE,
  WIRE_TYPE_IDS,
  type DecodedInterface,
  type GoType,
} from './gob-types.js';

/** A type as the stream defined it. */
type WireDef =
  | { kind: 'struct'; name: string; fields: { name: string; id: number }[] }
  | { kind: 'slice'; name: string; elem: number }
  | { kind: 'array'; name: string; elem: number; len: number }
  | { kind: 'map'; name: string; key: number; elem: number }
  /** GobEncoder, BinaryMarshaler, TextMarshaler: the value is opaque bytes. */
  | { kind: 'opaque'; name: string };

/** Thrown inside a decode attempt when the stream has not delivered enough bytes yet. */
class NeedMore {
  constructor(readonly upTo: number) {}
}

const MAX_NAME = 1024;
const MAX_DEPTH = 1000;

/** The wire descriptions of gob's own types (the ids every stream predefines). */
const PREDEFINED: ReadonlyMap<number, WireDef> = (() => {
  const ids = new Map<GoType, number>(WIRE_TYPE_IDS.map(([id, t]) => [t, id]));
  const idOf = (t: GoType): number => (t.kind in BASIC_IDS ? BASIC_IDS[t.kind as keyof typeof BASIC_IDS] : ids.get(t)!);
  const defs = new Map<number, WireDef>();
  for (const [id, t] of WIRE_TYPE_IDS) {
    defs.set(id, t.kind === 'struct' ? { kind: 'struct', name: t.name, fields: t.fields.map(([name, ft]) => ({ name, id: idOf(ft) })) } : { kind: 'slice', name: '', elem: idOf(t.elem) });
  }
  return defs;
})();

export interface GobDecoderOptions {
  /** The largest message accepted (bytes); a larger length is taken for a corrupt stream. Default 64 MiB. */
  maxMessageSize?: number;
}

/**
 * One direction of a gob stream, fed from a socket: push() the bytes as they come, then
 * call next() until it returns undefined. Types the stream defines are kept for later values.
 *
 * Values decode as: bool → boolean; ints and uints → number, or bigint beyond
 * Number.MAX_SAFE_INTEGER; floats → number; complex → { re, im }; string → string;
 * []byte → Buffer; slices and arrays → arrays; maps → Map; structs → plain objects keyed by
 * Go field name, in the order of the type's fields, with the fields gob left out (Go's zero
 * values) filled in as zero values (0, false, '', empty Buffer/array/Map, null for an interface
 * or a struct, which gob leaves out only when it was a nil pointer); interface values →
 * { goType, value } or null; values of GobEncoder/BinaryMarshaler/TextMarshaler types → Buffer.
 */
export class GobDecoder {
  private buf: Buffer = Buffer.alloc(0);
  /** The first byte not yet consumed by a complete value. */
  private start = 0;
  /** The end of the bytes pushed. */
  private end = 0;
  /** How many bytes past `start` the next attempt needs before it can get further. */
  private needed = 0;
  // During an attempt: the read position and the end of the message it is in.
  private pos = 0;
  private msgEnd = 0;
  private depth = 0;
  private readonly types = new Map<number, WireDef>(PREDEFINED);
  /** Types defined during the current attempt, dropped again if it runs out of bytes. */
  private added: number[] = [];
  private failed?: GobError;
  private readonly maxMessageSize: number;

  constructor(options: GobDecoderOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? 64 * 1024 * 1024;
  }

  /** Bytes pushed and not yet consumed by a returned value. */
  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (this.failed || chunk.length === 0) return;
    const live = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      if (live + chunk.length <= this.buf.length >> 1) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, live + chunk.length, 4096));
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The next complete value, or undefined until more bytes are pushed. Throws GobError, and again on every later call, for a malformed stream. */
  next(): unknown {
    if (this.failed) throw this.failed;
    if (this.end - this.start < this.needed) return undefined;
    this.added = [];
    try {
      for (;;) {
        this.pos = this.start;
        this.msgEnd = this.start;
        this.readMessageHeader();
        const id = this.readTypeId();
        if (id < 0) {
          // A type definition: a message of its own.
          this.defineType(-id);
          if (this.pos !== this.msgEnd) throw this.corrupt(`${this.msgEnd - this.pos} bytes of extra data after the definition of type ${-id}`);
          this.commit();
          continue;
        }
        const value = this.decodeTop(id);
        if (this.pos !== this.msgEnd) throw this.corrupt(`${this.msgEnd - this.pos} bytes of extra data after a value of type ${id}`);
        this.commit();
        return value;
      }
    } catch (err) {
      if (err instanceof NeedMore) {
        for (const id of this.added) this.types.delete(id);
        this.added = [];
        this.needed = err.upTo - this.start;
        return undefined;
      }
      this.failed = err instanceof GobError ? err : err instanceof RangeError ? new GobError(`gob: ${err.message}`) : new GobError(`gob: ${String(err)}`);
      this.buf = Buffer.alloc(0);
      this.start = this.end = 0;
      throw this.failed;
    }
  }

  private commit(): void {
    this.start = this.pos;
    this.needed = 0;
    this.added = [];
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.buf.length > 1 << 20) this.buf = Buffer.alloc(0);
    }
  }

  private corrupt(what: string): GobError {
    return new GobError(`gob: corrupt stream: ${what}`);
  }

  /** Starts the next message at `pos`: its length, and all of its bytes, must have arrived. */
  private readMessageHeader(): void {
    const at = this.pos;
    if (at >= this.end) throw new NeedMore(at + 1);
    const b = this.buf[at]!;
    let len: number;
    let body: number;
    if (b < 0x80) {
      len = b;
      body = at + 1;
    } else {
      const n = 256 - b;
      if (n > 8) throw this.corrupt(`message length of ${n} bytes`);
      if (at + 1 + n > this.end) throw new NeedMore(at + 1 + n);
      len = 0;
      for (let i = 1; i <= n; i++) len = len * 256 + this.buf[at + i]!;
      body = at + 1 + n;
    }
    if (len > this.maxMessageSize) throw this.corrupt(`message of ${len} bytes (the limit is ${this.maxMessageSize})`);
    if (len === 0) throw this.corrupt('empty message');
    if (body + len > this.end) throw new NeedMore(body + len);
    this.pos = body;
    this.msgEnd = body + len;
  }

  // --- primitives, bounded by the current message ---

  private need(n: number, what: string): void {
    if (this.pos + n > this.msgEnd) throw this.corrupt(`message ends inside ${what}`);
  }

  private readUint(): number | bigint {
    this.need(1, 'an unsigned integer');
    const b = this.buf[this.pos++]!;
    if (b < 0x80) return b;
    const n = 256 - b;
    if (n > 8) throw this.corrupt(`unsigned integer of ${n} bytes`);
    this.need(n, 'an unsigned integer');
    if (n <= 6) {
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos++]!;
      return v;
    }
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.buf[this.pos++]!);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private readInt(): number | bigint {
    const u = this.readUint();
    if (typeof u === 'number') return u % 2 === 1 ? -(u - 1) / 2 - 1 : u / 2;
    const i = u & 1n ? ~(u >> 1n) : u >> 1n;
    return i >= BigInt(Number.MIN_SAFE_INTEGER) && i <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(i) : i;
  }

  /** A count, length, delta or id: must fit a number. */
  private readSmall(what: string): number {
    const u = this.readUint();
    if (typeof u !== 'number') throw this.corrupt(`${what} of ${u}`);
    return u;
  }

  private readTypeId(): number {
    const i = this.readInt();
    if (typeof i !== 'number' || i > 0x7fffffff || i < -0x7fffffff) throw this.corrupt(`type id ${i}`);
    return i;
  }

  private readFloat(): number {
    this.need(1, 'a float');
    const b = this.buf[this.pos++]!;
    const bits = Buffer.alloc(8);
    // The uint is the byte-reversed float: its big-endian bytes, right-aligned, are the float's little-endian bytes.
    if (b < 0x80) {
      bits[7] = b;
    } else {
      const n = 256 - b;
      if (n > 8) throw this.corrupt(`float of ${n} bytes`);
      this.need(n, 'a float');
      this.buf.copy(bits, 8 - n, this.pos, this.pos + n);
      this.pos += n;
    }
    return bits.readDoubleLE(0);
  }

  private readLength(what: string): number {
    const n = this.readSmall(`${what} length`);
    if (n > this.msgEnd - this.pos) throw this.corrupt(`${what} of ${n} bytes in the ${this.msgEnd - this.pos} left of the message`);
    return n;
  }

  // --- types ---

  /**
   * Type definitions ahead of a value (isInterface: inside an interface value, where Go puts
   * the definitions of its concrete type), then the value's type id. A definition ends its
   * message, or (nested interfaces) is followed by a count that gob's own decoder skips.
   */
  private readTypeSequence(isInterface: boolean): number {
    for (;;) {
      if (this.pos === this.msgEnd) this.readMessageHeader();
      const id = this.readTypeId();
      if (id >= 0) return id;
      this.defineType(-id);
      if (this.pos < this.msgEnd) {
        if (!isInterface) throw this.corrupt(`extra data after the definition of type ${-id}`);
        this.readUint();
      }
    }
  }

  private defineType(id: number): void {
    if (id < FIRST_USER_ID) throw this.corrupt(`definition of reserved type id ${id}`);
    if (this.types.has(id)) throw this.corrupt(`type ${id} defined twice`);
    const w = this.decodeStruct(this.types.get(ID_WIRE_TYPE) as WireDef & { kind: 'struct' }) as Record<string, Record<string, unknown> | null>;
    const common = (t: Record<string, unknown>): string => ((t['CommonType'] as { Name: string } | null)?.Name ?? '');
    const num = (v: unknown, what: string): number => {
      if (typeof v !== 'number' || v < 0 || v > 0x7fffffff) throw this.corrupt(`${what} ${String(v)} in the definition of type ${id}`);
      return v;
    };
    let def: WireDef;
    if (w['ArrayT']) {
      const t = w['ArrayT'];
      def = { kind: 'array', name: common(t), elem: num(t['Elem'], 'element type'), len: num(t['Len'], 'array length') };
    } else if (w['SliceT']) {
      const t = w['SliceT'];
      def = { kind: 'slice', name: common(t), elem: num(t['Elem'], 'element type') };
    } else if (w['StructT']) {
      const t = w['StructT'];
      const fields = (t['Field'] as ({ Name: string; Id: unknown } | null)[]).map((f) => {
        if (!f) throw this.corrupt(`nil field in the definition of type ${id}`);
        return { name: f.Name, id: num(f.Id, `type of field ${f.Name}`) };
      });
      def = { kind: 'struct', name: common(t), fields };
    } else if (w['MapT']) {
      const t = w['MapT'];
      def = { kind: 'map', name: common(t), key: num(t['Key'], 'key type'), elem: num(t['Elem'], 'element type') };
    } else {
      const t = w['GobEncoderT'] ?? w['BinaryMarshalerT'] ?? w['TextMarshalerT'];
      if (!t) throw this.corrupt(`definition of type ${id} says no kind of type`);
      def = { kind: 'opaque', name: common(t) };
    }
    this.types.set(id, def);
    this.added.push(id);
  }

  private typeOf(id: number): WireDef {
    const t = this.types.get(id);
    if (!t) throw this.corrupt(`undefined type id ${id}`);
    return t;
  }

  // --- values ---

  /** A value on its own (top level, or in an interface): a struct's fields, else field 0. */
  private decodeTop(id: number): unknown {
    if (id === 0) throw this.corrupt('type id 0');
    const t = id > ID_INTERFACE ? this.typeOf(id) : undefined;
    if (t?.kind === 'struct') return this.decodeStruct(t);
    const delta = this.readSmall('field delta');
    if (delta !== 0) throw this.corrupt(`field delta ${delta} for a value that is not a struct`);
    return this.decodeValue(id);
  }

  private decodeValue(id: number): unknown {
    switch (id) {
      case ID_BOOL:
        return this.readSmall('bool') !== 0;
      case ID_INT:
        return this.readInt();
      case ID_UINT:
        return this.readUint();
      case ID_FLOAT:
        return this.readFloat();
      case ID_BYTES: {
        const n = this.readLength('[]byte');
        const out = Buffer.allocUnsafe(n);
        this.buf.copy(out, 0, this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case ID_STRING: {
        const n = this.readLength('string');
        const s = this.buf.toString('utf8', this.pos, this.pos + n);
        this.pos += n;
        return s;
      }
      case ID_COMPLEX: {
        const re = this.readFloat();
        return { re, im: this.readFloat() };
      }
      case ID_INTERFACE:
        return this.decodeInterface();
    }
    const t = this.typeOf(id);
    if (++this.depth > MAX_DEPTH) throw this.corrupt(`values nested more than ${MAX_DEPTH} deep`);
    try {
      switch (t.kind) {
        case 'struct':
          return this.decodeStruct(t);
        case 'slice': {
          const n = this.readSmall('slice length');
          const out: unknown[] = [];
          for (let i = 0; i < n; i++) out.push(this.decodeValue(t.elem));
          return out;
        }
        case 'array': {
          const n = this.readSmall('array length');
          if (n !== t.len) throw this.corrupt(`array of ${n} elements for a type of ${t.len}`);
          const out: unknown[] = [];
          for (let i = 0; i < n; i++) out.push(this.decodeValue(t.elem));
          return out;
        }
        case 'map': {
          const n = this.readSmall('map size');
          const out = new Map<unknown, unknown>();
          for (let i = 0; i < n; i++) {
            const k = this.decodeValue(t.key);
            out.set(k, this.decodeValue(t.elem));
          }
          return out;
        }
        case 'opaque':
          return this.decodeValue(ID_BYTES);
      }
    } finally {
      this.depth--;
    }
  }

  private decodeStruct(t: WireDef & { kind: 'struct' }): Record<string, unknown> {
    const fields = t.fields;
    const values: unknown[] = new Array<unknown>(fields.length);
    const present: boolean[] = new Array<boolean>(fields.length).fill(false);
    let field = -1;
    for (;;) {
      const delta = this.readSmall('field delta');
      if (delta === 0) break;
      field += delta;
      if (field >= fields.length) throw this.corrupt(`field number ${field} in ${describeStruct(t)}, which has ${fields.length} fields`);
      values[field] = this.decodeValue(fields[field]!.id);
      present[field] = true;
    }
    const out: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const name = fields[i]!.name;
      const v = present[i] ? values[i] : this.zero(fields[i]!.id, 0);
      if (name === '__proto__') Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
      else out[name] = v;
    }
    return out;
  }

  private decodeInterface(): DecodedInterface | null {
    const n = this.readLength('interface type name');
    if (n === 0) return null;
    if (n > MAX_NAME) throw this.corrupt(`interface type name of ${n} bytes`);
    const goType = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    const id = this.readTypeSequence(true);
    // The byte count of the value: not needed, the value is read by its type (as gob's decoder does).
    this.readUint();
    return { goType, value: this.decodeTop(id) };
  }

  /** What a struct field left out of the stream holds: the zero value of its type. */
  private zero(id: number, depth: number): unknown {
    switch (id) {
      case ID_BOOL:
        return false;
      case ID_INT:
      case ID_UINT:
      case ID_FLOAT:
        return 0;
      case ID_BYTES:
        return Buffer.alloc(0);
      case ID_STRING:
        return '';
      case ID_COMPLEX:
        return { re: 0, im: 0 };
      case ID_INTERFACE:
        return null;
    }
    const t = this.typeOf(id);
    switch (t.kind) {
      case 'slice':
        return [];
      case 'map':
        return new Map();
      case 'array':
        // Go always sends arrays; one left out is filled in, within reason.
        if (depth > MAX_DEPTH || t.len > 1 << 16) throw this.corrupt(`array field of type ${id} left out`);
        return Array.from({ length: t.len }, () => this.zero(t.elem, depth + 1));
      default:
        return null;
    }
  }
}

function describeStruct(t: { name: string }): string {
  return t.name ? `struct ${t.name}` : 'a struct';
}
