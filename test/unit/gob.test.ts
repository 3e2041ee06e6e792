import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGo, goMissing } from '../helpers/go.js';
import { GobDecoder, GobEncoder, GobError, gt, type GoInterfaceValue, type GoStruct, type GoType } from '../../src/plugin-rpc/gob.js';

// Go's encoding/gob as Docker Machine's driver plugins speak it (net/rpc, service
// RPCServerDriver). The bytes are checked against Go's own encoder and decoder: a small Go
// program (standard library only, below) encodes the same values under libmachine's
// registered names, and decodes what this encoder writes.

// --- libmachine's types, as the plugin protocol carries them ---

const REQUEST = gt.struct('Request', [
  ['ServiceMethod', gt.string],
  ['Seq', gt.uint],
]);
const RESPONSE = gt.struct('Response', [
  ['ServiceMethod', gt.string],
  ['Seq', gt.uint],
  ['Error', gt.string],
]);
const STRING_FLAG = gt.struct('StringFlag', [
  ['Name', gt.string],
  ['Usage', gt.string],
  ['EnvVar', gt.string],
  ['Value', gt.string],
]);
const INT_FLAG = gt.struct('IntFlag', [
  ['Name', gt.string],
  ['Usage', gt.string],
  ['EnvVar', gt.string],
  ['Value', gt.int],
]);
const BOOL_FLAG = gt.struct('BoolFlag', [
  ['Name', gt.string],
  ['Usage', gt.string],
  ['EnvVar', gt.string],
]);
const STRING_SLICE_FLAG = gt.struct('StringSliceFlag', [
  ['Name', gt.string],
  ['Usage', gt.string],
  ['EnvVar', gt.string],
  ['Value', gt.slice(gt.string)],
]);
const RPC_FLAGS = gt.struct('RPCFlags', [['Values', gt.map(gt.string, gt.interface)]]);
const STRINGS = gt.slice(gt.string);

// --- more Go types, to cover the format ---

const INNER = gt.struct('Inner', [
  ['A', gt.int],
  ['B', gt.string],
]);
const PROBE = gt.struct('Probe', [['N', gt.int]]);
const EVERYTHING = gt.struct('Everything', [
  ['B', gt.bool],
  ['I', gt.int],
  ['I8', gt.int],
  ['U', gt.uint],
  ['U8', gt.uint],
  ['F', gt.float],
  ['F32', gt.float],
  ['C', gt.complex],
  ['S', gt.string],
  ['Bs', gt.bytes],
  ['Arr', gt.array(gt.int, 3)],
  ['ByteArr', gt.array(gt.uint, 2)],
  ['Sl', STRINGS],
  ['M', gt.map(gt.string, gt.int)],
  ['MI', gt.map(gt.int, gt.string)],
  ['In', INNER],
  ['InP', INNER],
  ['InNil', INNER],
  ['Any', gt.interface],
  ['AnyNil', gt.interface],
  ['Structs', gt.slice(INNER)],
  ['Empty', gt.emptyStruct],
]);
const NODE: GoStruct = gt.struct('Node', () => [
  ['Value', gt.int],
  ['Next', NODE],
  ['Kids', gt.slice(NODE)],
]);

const iface = (goType: string, type: GoType, value: unknown): GoInterfaceValue => ({ goType, type, value });
const str = (s: string) => iface('string', gt.string, s);
const int = (n: number | bigint) => iface('int', gt.int, n);
const bool = (b: boolean) => iface('bool', gt.bool, b);
const strs = (l: string[]) => iface('[]string', STRINGS, l);
const flags = (values: Record<string, GoInterfaceValue | null> | null) => iface('*rpcdriver.RPCFlags', RPC_FLAGS, { Values: values });
const stringFlag = (Name: string, Usage: string, EnvVar: string, Value: string) => iface('*mcnflag.StringFlag', STRING_FLAG, { Name, Usage, EnvVar, Value });
const intFlag = (Name: string, Usage: string, EnvVar: string, Value: number) => iface('*mcnflag.IntFlag', INT_FLAG, { Name, Usage, EnvVar, Value });
const boolFlag = (Name: string, Usage: string, EnvVar: string) => iface('*mcnflag.BoolFlag', BOOL_FLAG, { Name, Usage, EnvVar });
const sliceFlag = (Name: string, Usage: string, EnvVar: string, Value: string[]) => iface('*mcnflag.StringSliceFlag', STRING_SLICE_FLAG, { Name, Usage, EnvVar, Value });

type Item = readonly [GoType, unknown];
interface Scenario {
  /** This encoder writes Go's bytes exactly (no map of several entries, whose order Go randomises). */
  exact: boolean;
  items: Item[];
  /** What the decoder returns for the items, when not the items themselves. */
  decoded?: unknown[];
  /** Go types this encoder cannot describe (GobEncoder implementations): only decoded. */
  decodeOnly?: boolean;
}

// Each scenario's values are the same as the Go program's (scenarios() in GO_SOURCE).
const SCENARIOS: Record<string, Scenario> = {
  requests: {
    exact: true,
    items: [
      [REQUEST, { ServiceMethod: 'RPCServerDriver.GetVersion', Seq: 0 }],
      [gt.emptyStruct, {}],
      [REQUEST, { ServiceMethod: 'RPCServerDriver.SetConfigRaw', Seq: 1 }],
      [gt.bytes, Buffer.from('{"MachineName":"m1","SSHPort":22}')],
      [REQUEST, { ServiceMethod: 'RPCServerDriver.SetConfigFromFlags', Seq: 2 }],
      [gt.interface, flags({ 'amazonec2-region': str('eu-west-1') })],
      [REQUEST, { ServiceMethod: 'RPCServerDriver.SetConfigFromFlags', Seq: 3 }],
      [gt.interface, flags({ 'engine-opt': strs(['a=1', 'b=2']) })],
      [REQUEST, { ServiceMethod: 'RPCServerDriver.Heartbeat', Seq: 300 }],
      [gt.emptyStruct, {}],
      [REQUEST, { ServiceMethod: 'RPCServerDriver.SetConfigFromFlags', Seq: 301 }],
      [gt.interface, flags({ 'engine-opt': strs(['c=3']) })],
      [REQUEST, { ServiceMethod: 'RPCServerDriver.SetConfigFromFlags', Seq: 302 }],
      [gt.interface, flags({})],
      [REQUEST, { ServiceMethod: 'RPCServerDriver.SetConfigFromFlags', Seq: 303 }],
      [gt.interface, flags(null)],
    ],
  },
  responses: {
    exact: true,
    items: [
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.GetVersion', Seq: 0, Error: '' }],
      [gt.int, 1],
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.GetCreateFlags', Seq: 1, Error: '' }],
      [
        gt.slice(gt.interface),
        [
          stringFlag('amazonec2-ami', 'AWS machine image', 'AWS_AMI', 'ami-123'),
          intFlag('amazonec2-root-size', 'root disk size (GB)', 'AWS_ROOT_SIZE', 16),
          intFlag('offset', '', '', -300),
          boolFlag('amazonec2-private-address-only', 'only private', ''),
          sliceFlag('amazonec2-tags', 'tags', '', ['a', 'b c', '']),
          sliceFlag('amazonec2-security-group', '', '', []),
          stringFlag('pointer-flag', '', '', 'p'),
          stringFlag('', '', '', ''),
        ],
      ],
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.DriverName', Seq: 2, Error: '' }],
      [gt.string, 'amazonec2'],
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.GetState', Seq: 3, Error: '' }],
      [gt.int, 1],
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.GetConfigRaw', Seq: 4, Error: '' }],
      [gt.bytes, Buffer.from('{"Driver":{}}')],
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.Create', Seq: 5, Error: 'boom: quota exceeded' }],
      [gt.emptyStruct, {}],
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.GetSSHPort', Seq: 300, Error: '' }],
      [gt.int, 0],
      [RESPONSE, { ServiceMethod: 'RPCServerDriver.GetURL', Seq: 301, Error: '' }],
      [gt.string, ''],
    ],
  },
  numbers: {
    exact: true,
    items: [
      ...[0, 1, -1, 63, 64, -64, -65, 127, 128, -129, 255, 256, 2 ** 31, -(2 ** 31), 2 ** 53 - 1].map((n): Item => [gt.int, n]),
      ...[2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), -128, -32768].map((n): Item => [gt.int, n]),
      ...[0, 127, 128, 255, 256, 2n ** 53n + 1n, 2n ** 64n - 1n, 255, 65535].map((n): Item => [gt.uint, n]),
      [gt.bool, true],
      [gt.bool, false],
      ...[0, 17, -0.5, 0.1, 1e300, -1e-300, Infinity, -Infinity, -0, 1.5, Math.fround(0.1), Number.MIN_VALUE, Number.MAX_VALUE, 123456789].map((n): Item => [gt.float, n]),
      [gt.complex, { re: 1.5, im: -2 }],
      [gt.complex, { re: 0, im: 0 }],
      [gt.complex, { re: 0.25, im: 4 }],
      [gt.string, ''],
      [gt.string, 'hello'],
      [gt.string, 'héllo ✓ 日本語'],
      [gt.bytes, Buffer.alloc(0)],
      [gt.bytes, Buffer.from([0, 1, 127, 128, 255])],
      [gt.int, 3],
    ],
  },
  interfaces: {
    exact: true,
    items: [
      [
        gt.slice(gt.interface),
        [
          str('s'),
          int(1),
          null,
          strs(['a']),
          iface('main.Inner', INNER, { A: 3, B: 'c' }),
          bool(true),
          iface('*main.Probe', PROBE, { N: 1 }),
          strs([]),
          iface('float64', gt.float, 2.5),
          iface('[]uint8', gt.bytes, Buffer.from('x')),
          iface('uint', gt.uint, 7),
          iface('[]int', gt.slice(gt.int), [-1, 2]),
        ],
      ],
    ],
  },
  maps: {
    exact: false,
    items: [
      [gt.map(gt.string, gt.interface), new Map([['a', str('x')], ['b', int(2)], ['nil', null], ['list', strs(['p'])]])],
      [
        gt.interface,
        flags({
          s: str('str'),
          empty: str(''),
          i: int(42),
          zero: int(0),
          neg: int(-7),
          big: int(2n ** 62n),
          t: bool(true),
          f: bool(false),
          list: strs(['x', 'y']),
          nolist: strs([]),
          nil: null,
        }),
      ],
      [gt.interface, flags({})],
      [gt.map(gt.int, gt.string), new Map([[-1, 'minus'], [0, ''], [1000, 'k']])],
    ],
  },
  structs: {
    exact: false,
    items: [
      [
        EVERYTHING,
        {
          B: true,
          I: -42,
          I8: -8,
          U: 2 ** 40,
          U8: 200,
          F: 2.5,
          F32: -0.75,
          C: { re: 1, im: 1 },
          S: 's',
          Bs: Buffer.from('bytes'),
          Arr: [1, 0, -1],
          ByteArr: [9, 0],
          Sl: ['x', ''],
          M: new Map([['one', 1], ['zero', 0]]),
          MI: new Map([[-1, 'minus'], [7, '']]),
          In: { A: 5, B: 'in' },
          InP: { A: 6 },
          InNil: null,
          Any: iface('[]int', gt.slice(gt.int), [1, -2]),
          AnyNil: null,
          Structs: [{ A: 1 }, {}, { B: 'b' }],
          Empty: {},
        },
      ],
      [EVERYTHING, { Arr: [0, 0, 0], ByteArr: [0, 0], In: {}, Empty: {} }],
      [EVERYTHING, { Arr: [0, 0, 0], ByteArr: [0, 0], In: {}, Empty: {}, M: {}, Sl: [] }],
      [NODE, { Value: 1, Next: { Value: 2, Next: { Value: 3 } }, Kids: [{ Value: 4 }, { Value: 5, Kids: [{ Value: 6 }] }] }],
      [gt.slice(INNER), [{ A: 1, B: 'a' }, {}]],
      [gt.map(gt.string, INNER), { k: { A: 2, B: 'b' }, z: {} }],
      [gt.array(gt.string, 2), ['x', '']],
      [gt.emptyStruct, {}],
    ],
    decoded: [
      {
        B: true,
        I: -42,
        I8: -8,
        U: 2 ** 40,
        U8: 200,
        F: 2.5,
        F32: -0.75,
        C: { re: 1, im: 1 },
        S: 's',
        Bs: Buffer.from('bytes'),
        Arr: [1, 0, -1],
        ByteArr: [9, 0],
        Sl: ['x', ''],
        M: new Map([['one', 1], ['zero', 0]]),
        MI: new Map([[-1, 'minus'], [7, '']]),
        In: { A: 5, B: 'in' },
        InP: { A: 6, B: '' },
        InNil: null,
        Any: { goType: '[]int', value: [1, -2] },
        AnyNil: null,
        Structs: [{ A: 1, B: '' }, { A: 0, B: '' }, { A: 0, B: 'b' }],
        Empty: {},
      },
      ...[0, 1].map(() => ({
        B: false,
        I: 0,
        I8: 0,
        U: 0,
        U8: 0,
        F: 0,
        F32: 0,
        C: { re: 0, im: 0 },
        S: '',
        Bs: Buffer.alloc(0),
        Arr: [0, 0, 0],
        ByteArr: [0, 0],
        Sl: [],
        M: new Map(),
        MI: new Map(),
        In: { A: 0, B: '' },
        InP: null,
        InNil: null,
        Any: null,
        AnyNil: null,
        Structs: [],
        Empty: {},
      })),
      {
        Value: 1,
        Next: { Value: 2, Next: { Value: 3, Next: null, Kids: [] }, Kids: [] },
        Kids: [
          { Value: 4, Next: null, Kids: [] },
          { Value: 5, Next: null, Kids: [{ Value: 6, Next: null, Kids: [] }] },
        ],
      },
      [
        { A: 1, B: 'a' },
        { A: 0, B: '' },
      ],
      new Map([
        ['k', { A: 2, B: 'b' }],
        ['z', { A: 0, B: '' }],
      ]),
      ['x', ''],
      {},
    ],
  },
  nan: { exact: false, items: [[gt.float, NaN]] },
  // time.Time is a GobEncoder: its value is opaque bytes (Time.GobEncode's).
  opaque: {
    exact: false,
    decodeOnly: true,
    items: [],
    decoded: [
      Buffer.from('010000000ed59f54a500000006ffff', 'hex'),
      { Name: 'x', When: Buffer.from('010000000ed59f54a500000006ffff', 'hex'), Never: null },
    ],
  },
};

/** The decoder's view of an encoder input: interface values lose their `type`. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, plain(x)]));
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  const o = v as Record<string, unknown>;
  if ('goType' in o && 'type' in o) return { goType: o['goType'], value: plain(o['value']) };
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]));
}
const expectedDecoded = (s: Scenario): unknown[] => s.decoded ?? s.items.map(([, v]) => plain(v));
// A nil map is left out of a struct, and comes back as an empty one.
SCENARIOS['requests']!.decoded = [...expectedDecoded(SCENARIOS['requests']!).slice(0, -1), { goType: '*rpcdriver.RPCFlags', value: { Values: new Map() } }];

function encodeAll(items: Item[], enc = new GobEncoder()): Buffer {
  return Buffer.concat(items.map(([t, v]) => enc.encode(t, v)));
}

function decodeAll(bytes: Buffer, chunk = bytes.length || 1): unknown[] {
  const dec = new GobDecoder();
  const out: unknown[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    dec.push(bytes.subarray(i, i + chunk));
    for (let v = dec.next(); v !== undefined; v = dec.next()) out.push(v);
  }
  expect(dec.buffered).toBe(0);
  return out;
}

/** Values as the Go program prints them: numbers as text, bytes as hex, maps as objects. */
function goView(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('hex') };
  if (Array.isArray(v)) return v.map(goView);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(goView(k)), goView(x)]));
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, goView(x)]));
}

describe('gob wire format (without Go)', () => {
  it("writes the documentation's examples", () => {
    const enc = new GobEncoder();
    const point = gt.struct('Point', [
      ['X', gt.int],
      ['Y', gt.int],
    ]);
    expect(enc.encode(point, { X: 22, Y: 33 }).toString('hex')).toBe(
      '1fff81030101055' + '06f696e7401ff820001020101580104000101590104000000' + '07ff82012c014200',
    );
    // Sent again on the same stream: the type is known, only the value goes.
    expect(enc.encode(point, { X: 22, Y: 33 }).toString('hex')).toBe('07ff82012c014200');
    // A single value is field 0 of nothing: [len] [type id] 00 [value].
    const one = (t: GoType, v: unknown) => new GobEncoder().encode(t, v).toString('hex').slice(6);
    expect(one(gt.uint, 0)).toBe('00');
    expect(one(gt.uint, 7)).toBe('07');
    expect(one(gt.uint, 256)).toBe('fe0100');
    expect(one(gt.int, -129)).toBe('fe0101');
    expect(one(gt.float, 17)).toBe('fe3140');
    expect(one(gt.bool, true)).toBe('01');
    expect(one(gt.string, 'hi')).toBe('026869');
  });

  for (const [name, s] of Object.entries(SCENARIOS).filter(([, s]) => !s.decodeOnly)) {
    it(`reads back what it writes: ${name}`, () => {
      const bytes = encodeAll(s.items);
      const got = decodeAll(bytes);
      expect(goView(got)).toEqual(goView(expectedDecoded(s)));
      // The same, a byte at a time.
      expect(goView(decodeAll(bytes, 1))).toEqual(goView(got));
    });
  }

  it('decodes to typed JavaScript values', () => {
    const got = decodeAll(encodeAll(SCENARIOS['numbers']!.items));
    expect(got.slice(0, 3)).toEqual([0, 1, -1]);
    expect(got[14]).toBe(2 ** 53 - 1);
    expect(got.slice(15, 19)).toEqual([2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)]);
    expect(got).toContain(2n ** 64n - 1n);
    expect(Object.is(got.find((v) => Object.is(v, -0)), -0)).toBe(true);
    const resp = decodeAll(encodeAll(SCENARIOS['responses']!.items));
    expect(resp[0]).toEqual({ ServiceMethod: 'RPCServerDriver.GetVersion', Seq: 0, Error: '' });
    expect((resp[3] as unknown[])[5]).toEqual({ goType: '*mcnflag.StringSliceFlag', value: { Name: 'amazonec2-security-group', Usage: '', EnvVar: '', Value: [] } });
    expect(Buffer.isBuffer(resp[9])).toBe(true);
    const req = decodeAll(encodeAll(SCENARIOS['requests']!.items));
    expect(req[5]).toEqual({ goType: '*rpcdriver.RPCFlags', value: { Values: new Map([['amazonec2-region', { goType: 'string', value: 'eu-west-1' }]]) } });
    expect(req[13]).toEqual({ goType: '*rpcdriver.RPCFlags', value: { Values: new Map() } });
    expect(req[15]).toEqual({ goType: '*rpcdriver.RPCFlags', value: { Values: new Map() } });
  });

  it('keeps type definitions across values and defines each type once per stream', () => {
    const enc = new GobEncoder();
    const first = enc.encode(gt.slice(INNER), [{ A: 1 }]);
    const again = enc.encode(gt.slice(INNER), [{ A: 1 }]);
    expect(again.length).toBeLessThan(first.length);
    // A type reached first inside a struct is not defined again when sent on its own.
    enc.encode(gt.struct('Outer', [['In', INNER]]), { In: { A: 2 } });
    const inner = enc.encode(INNER, { A: 3 });
    expect(inner.toString('hex')).toBe('05ff82010600');
    const dec = new GobDecoder();
    dec.push(Buffer.concat([first, again]));
    expect(dec.next()).toEqual([{ A: 1, B: '' }]);
    expect(dec.next()).toEqual([{ A: 1, B: '' }]);
    expect(dec.next()).toBeUndefined();
    // A new decoder has not seen the definitions.
    const fresh = new GobDecoder();
    fresh.push(again);
    expect(() => fresh.next()).toThrow(/undefined type id 66/);
  });

  it('streams: messages split anywhere, several in one chunk, large ones in linear time', () => {
    const bytes = encodeAll(SCENARIOS['responses']!.items);
    const want = goView(decodeAll(bytes));
    for (const chunk of [2, 3, 7, 64]) expect(goView(decodeAll(bytes, chunk))).toEqual(want);
    const dec = new GobDecoder();
    dec.push(bytes.subarray(0, 5));
    expect(dec.next()).toBeUndefined();
    expect(dec.buffered).toBe(5);

    const big = Buffer.alloc(32 * 1024 * 1024, 7);
    const msg = new GobEncoder().encode(gt.bytes, big);
    const started = performance.now();
    const d = new GobDecoder();
    let got: unknown;
    for (let i = 0; i < msg.length; i += 4096) {
      d.push(msg.subarray(i, i + 4096));
      got = d.next() ?? got;
    }
    expect(Buffer.isBuffer(got) && (got as Buffer).equals(big)).toBe(true);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('fails on malformed streams with a GobError that says what is wrong', () => {
    const bad = (hex: string, pattern: RegExp, options?: { maxMessageSize: number }) => {
      const dec = new GobDecoder(options);
      dec.push(Buffer.from(hex.replace(/ /g, ''), 'hex'));
      expect(() => dec.next()).toThrow(GobError);
      // The error stays: the stream cannot be resynchronised.
      expect(() => dec.next()).toThrow(pattern);
    };
    bad('04 ff82 0000', /undefined type id 65/);
    bad('03 04 01 02', /field delta 1 for a value that is not a struct/);
    bad('04 04 00 02 00', /1 bytes of extra data after a value/);
    bad('03 0c 00 05', /string of 5 bytes in the 0 left/);
    bad('04 04 00 f7 00', /unsigned integer of 9 bytes/);
    bad('f0 00', /message length of 16 bytes/);
    bad('00', /empty message/);
    bad('04 06 00 fe 01', /message ends inside an unsigned integer/);
    bad('fe 0100', /message of 256 bytes \(the limit is 100\)/, { maxMessageSize: 100 });
    // Type definitions: reserved id, twice the same id, no kind, a field out of range.
    const def = new GobEncoder().encode(gt.struct('T', [['A', gt.int]]), { A: 1 });
    const defOnly = def.subarray(0, def[0]! + 1).toString('hex');
    const reserved = defOnly.slice(2).replace(/^ff81/, '13'); // -10 instead of -65
    bad((reserved.length / 2).toString(16).padStart(2, '0') + reserved, /definition of reserved type id 10/);
    bad(defOnly + defOnly, /type 65 defined twice/);
    bad('04 ff81 0000', /definition of type 65 says no kind of type/);
    bad(defOnly + '05 ff82 03 02 00', /field number 2 in struct T, which has 1 fields/);
  });

  it('meets corrupted streams with GobError only (deterministic fuzz)', () => {
    const streams = Object.values(SCENARIOS)
      .filter((s) => !s.decodeOnly)
      .map((s) => encodeAll(s.items));
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let failures = 0;
    for (let iter = 0; iter < 5000; iter++) {
      const b = Buffer.from(streams[rnd(streams.length)]!);
      for (let m = 1 + rnd(4); m > 0; m--) {
        const at = rnd(b.length);
        const how = rnd(3);
        b[at] = how === 0 ? rnd(256) : how === 1 ? b[at]! ^ (1 << rnd(8)) : [0, 0x7f, 0x80, 0xff, 0xf8, 0x01][rnd(6)]!;
      }
      const dec = new GobDecoder({ maxMessageSize: 1 << 20 });
      dec.push(b);
      try {
        for (let i = 0; i < 1000 && dec.next() !== undefined; i++);
      } catch (err) {
        if (!(err instanceof GobError)) throw new Error(`not a GobError for ${b.toString('hex')}: ${String(err)}`);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(1000);
  });

  it('rejects values that do not fit their Go type, and leaves the stream usable', () => {
    const enc = new GobEncoder();
    expect(() => enc.encode(REQUEST, { ServiceMethod: 'x', Seq: -1 })).toThrow(/in Request\.Seq: -1 is negative for a uint/);
    expect(() => enc.encode(REQUEST, { ServiceMethod: 1, Seq: 0 })).toThrow(/in Request\.ServiceMethod: expected string, got number 1/);
    expect(() => enc.encode(REQUEST, { Method: 'x' })).toThrow(/Request has no field "Method"/);
    expect(() => enc.encode(gt.int, 2n ** 63n)).toThrow(/out of range for an int64/);
    expect(() => enc.encode(gt.int, 1.5)).toThrow(/expected int, got number 1.5/);
    expect(() => enc.encode(REQUEST, null)).toThrow(/cannot encode a nil Request/);
    expect(() => enc.encode(gt.slice(INNER), [{}, null])).toThrow(/in \[\]Inner\[1\]: nil element of type Inner/);
    expect(() => enc.encode(gt.array(gt.int, 2), [1])).toThrow(/\[2\]int needs 2 elements, got 1/);
    expect(() => enc.encode(gt.interface, { goType: '', type: gt.int, value: 1 })).toThrow(/needs \{ goType, type, value \}/);
    expect(() => enc.encode(gt.interface, iface('*rpcdriver.RPCFlags', RPC_FLAGS, null))).toThrow(/nil value of type \*rpcdriver\.RPCFlags inside an interface/);
    expect(() => enc.encode(gt.interface, flags({ x: iface('int', gt.int, 'no') }))).toThrow(/in interface \{\}\(\*rpcdriver\.RPCFlags\)\.Values\["x"\]\(int\): expected int/);
    expect(() => enc.encode(gt.map(gt.int, gt.int), { a: 1 })).toThrow(/a Map/);
    // The failed values defined nothing: the next value still carries its type definitions.
    const ok = Buffer.concat([enc.encode(REQUEST, { ServiceMethod: 'x', Seq: 1 }), enc.encode(gt.interface, flags({ x: int(1) }))]);
    const dec = new GobDecoder();
    dec.push(ok);
    expect(dec.next()).toEqual({ ServiceMethod: 'x', Seq: 1 });
    expect(dec.next()).toEqual({ goType: '*rpcdriver.RPCFlags', value: { Values: new Map([['x', { goType: 'int', value: 1 }]]) } });
  });
});

// --- The Go side ---

const GO_SOURCE = String.raw`// Test fixture for test/unit/gob.test.ts: gob-encodes the test's scenarios with Go's
// encoding/gob ("gen NAME" prints {hex, view}) and decodes the test's bytes ("decode" reads
// {NAME: hex} on stdin, prints {NAME: {view, error}}). A view is the value with numbers as
// text, []byte as hex and interface values as {goType, value}.
package main

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"time"
)

// net/rpc's headers (declared here to keep the build small; the same fields).
type Request struct {
	ServiceMethod string
	Seq           uint64
	next          *Request
}

type Response struct {
	ServiceMethod string
	Seq           uint64
	Error         string
	next          *Response
}

// libmachine's mcnflag and rpcdriver types.
type Flag interface {
	String() string
	Default() interface{}
}

type StringFlag struct {
	Name   string
	Usage  string
	EnvVar string
	Value  string
}

type IntFlag struct {
	Name   string
	Usage  string
	EnvVar string
	Value  int
}

type BoolFlag struct {
	Name   string
	Usage  string
	EnvVar string
}

type StringSliceFlag struct {
	Name   string
	Usage  string
	EnvVar string
	Value  []string
}

func (f StringFlag) String() string           { return f.Name }
func (f StringFlag) Default() interface{}      { return f.Value }
func (f IntFlag) String() string              { return f.Name }
func (f IntFlag) Default() interface{}         { return f.Value }
func (f BoolFlag) String() string             { return f.Name }
func (f BoolFlag) Default() interface{}        { return nil }
func (f StringSliceFlag) String() string      { return f.Name }
func (f StringSliceFlag) Default() interface{} { return f.Value }

type DriverOptions interface {
	String(key string) string
}

type RPCFlags struct {
	Values map[string]interface{}
}

func (r RPCFlags) String(key string) string { s, _ := r.Values[key].(string); return s }

type State int

// More types, for the rest of the format.
type Inner struct {
	A int
	B string
}

type Probe struct{ N int }

type Everything struct {
	B       bool
	I       int
	I8      int8
	U       uint64
	U8      uint8
	F       float64
	F32     float32
	C       complex128
	S       string
	Bs      []byte
	Arr     [3]int
	ByteArr [2]byte
	Sl      []string
	M       map[string]int
	MI      map[int]string
	In      Inner
	InP     *Inner
	InNil   *Inner
	Any     interface{}
	AnyNil  interface{}
	Structs []Inner
	Empty   struct{}
	private int
}

type Node struct {
	Value int
	Next  *Node
	Kids  []Node
}

var names = map[reflect.Type]string{}

func register(name string, v interface{}) {
	gob.RegisterName(name, v)
	names[reflect.TypeOf(v).Elem()] = name
}

func init() {
	// libmachine calls gob.Register(new(mcnflag.StringFlag)) etc.: these are the names that gives.
	register("*mcnflag.StringFlag", &StringFlag{})
	register("*mcnflag.IntFlag", &IntFlag{})
	register("*mcnflag.BoolFlag", &BoolFlag{})
	register("*mcnflag.StringSliceFlag", &StringSliceFlag{})
	register("*rpcdriver.RPCFlags", &RPCFlags{})
	// Go's own naming, checked by the test: a pointer is "*" + package name + type name,
	// a non-pointer named type its package path + type name.
	gob.Register(&Probe{})
	names[reflect.TypeOf(Probe{})] = "*main.Probe"
	gob.Register(Inner{})
}

func opts(values map[string]interface{}) *DriverOptions {
	var o DriverOptions = &RPCFlags{Values: values}
	return &o
}

func scenarios() map[string][]interface{} {
	flagList := []Flag{
		StringFlag{Name: "amazonec2-ami", Usage: "AWS machine image", EnvVar: "AWS_AMI", Value: "ami-123"},
		IntFlag{Name: "amazonec2-root-size", Usage: "root disk size (GB)", EnvVar: "AWS_ROOT_SIZE", Value: 16},
		IntFlag{Name: "offset", Value: -300},
		BoolFlag{Name: "amazonec2-private-address-only", Usage: "only private"},
		StringSliceFlag{Name: "amazonec2-tags", Usage: "tags", Value: []string{"a", "b c", ""}},
		StringSliceFlag{Name: "amazonec2-security-group"},
		&StringFlag{Name: "pointer-flag", Value: "p"},
		StringFlag{},
	}
	return map[string][]interface{}{
		"requests": {
			Request{ServiceMethod: "RPCServerDriver.GetVersion", Seq: 0}, struct{}{},
			Request{ServiceMethod: "RPCServerDriver.SetConfigRaw", Seq: 1}, []byte("{\"MachineName\":\"m1\",\"SSHPort\":22}"),
			Request{ServiceMethod: "RPCServerDriver.SetConfigFromFlags", Seq: 2}, opts(map[string]interface{}{"amazonec2-region": "eu-west-1"}),
			Request{ServiceMethod: "RPCServerDriver.SetConfigFromFlags", Seq: 3}, opts(map[string]interface{}{"engine-opt": []string{"a=1", "b=2"}}),
			Request{ServiceMethod: "RPCServerDriver.Heartbeat", Seq: 300}, struct{}{},
			Request{ServiceMethod: "RPCServerDriver.SetConfigFromFlags", Seq: 301}, opts(map[string]interface{}{"engine-opt": []string{"c=3"}}),
			Request{ServiceMethod: "RPCServerDriver.SetConfigFromFlags", Seq: 302}, opts(map[string]interface{}{}),
			Request{ServiceMethod: "RPCServerDriver.SetConfigFromFlags", Seq: 303}, opts(nil),
		},
		"responses": {
			Response{ServiceMethod: "RPCServerDriver.GetVersion", Seq: 0}, 1,
			Response{ServiceMethod: "RPCServerDriver.GetCreateFlags", Seq: 1}, &flagList,
			Response{ServiceMethod: "RPCServerDriver.DriverName", Seq: 2}, "amazonec2",
			Response{ServiceMethod: "RPCServerDriver.GetState", Seq: 3}, State(1),
			Response{ServiceMethod: "RPCServerDriver.GetConfigRaw", Seq: 4}, []byte("{\"Driver\":{}}"),
			Response{ServiceMethod: "RPCServerDriver.Create", Seq: 5, Error: "boom: quota exceeded"}, struct{}{},
			Response{ServiceMethod: "RPCServerDriver.GetSSHPort", Seq: 300}, 0,
			Response{ServiceMethod: "RPCServerDriver.GetURL", Seq: 301}, "",
		},
		"numbers": {
			0, 1, -1, 63, 64, -64, -65, 127, 128, -129, 255, 256, 1 << 31, -(1 << 31), 1<<53 - 1,
			1 << 53, 1<<53 + 1, int64(math.MaxInt64), int64(math.MinInt64), int8(-128), int16(-32768),
			uint(0), uint(127), uint(128), uint(255), uint(256), uint64(1<<53 + 1), uint64(math.MaxUint64), uint8(255), uint16(65535),
			true, false,
			0.0, 17.0, -0.5, 0.1, 1e300, -1e-300, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), float32(1.5), float32(0.1),
			math.SmallestNonzeroFloat64, math.MaxFloat64, 123456789.0,
			complex(1.5, -2), complex(0, 0), complex64(complex(0.25, 4)),
			"", "hello", "héllo ✓ 日本語", []byte{}, []byte{0, 1, 127, 128, 255}, State(3),
		},
		"interfaces": {
			[]interface{}{"s", 1, nil, []string{"a"}, Inner{A: 3, B: "c"}, true, &Probe{N: 1}, []string{}, 2.5, []byte("x"), uint(7), []int{-1, 2}},
		},
		"maps": {
			map[string]interface{}{"a": "x", "b": 2, "nil": nil, "list": []string{"p"}},
			opts(map[string]interface{}{
				"s": "str", "empty": "", "i": 42, "zero": 0, "neg": -7, "big": 1 << 62,
				"t": true, "f": false, "list": []string{"x", "y"}, "nolist": []string{}, "nil": nil,
			}),
			opts(map[string]interface{}{}),
			map[int]string{-1: "minus", 0: "", 1000: "k"},
		},
		"structs": {
			Everything{B: true, I: -42, I8: -8, U: 1 << 40, U8: 200, F: 2.5, F32: -0.75, C: complex(1, 1), S: "s",
				Bs: []byte("bytes"), Arr: [3]int{1, 0, -1}, ByteArr: [2]byte{9, 0}, Sl: []string{"x", ""},
				M: map[string]int{"one": 1, "zero": 0}, MI: map[int]string{-1: "minus", 7: ""}, In: Inner{A: 5, B: "in"},
				InP: &Inner{A: 6}, Any: []int{1, -2}, Structs: []Inner{{A: 1}, {}, {B: "b"}}, private: 9},
			Everything{},
			Everything{M: map[string]int{}, Sl: []string{}},
			Node{Value: 1, Next: &Node{Value: 2, Next: &Node{Value: 3}}, Kids: []Node{{Value: 4}, {Value: 5, Kids: []Node{{Value: 6}}}}},
			[]Inner{{A: 1, B: "a"}, {}},
			map[string]Inner{"k": {A: 2, B: "b"}, "z": {}},
			[2]string{"x", ""},
			struct{}{},
		},
		"nan": {math.NaN()},
		"opaque": {
			time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
			struct {
				Name  string
				When  time.Time
				Never *time.Time
			}{Name: "x", When: time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)},
		},
	}
}

func fmtFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	b, _ := json.Marshal(f)
	return string(b)
}

func goName(t reflect.Type) string {
	base := t
	if base.Kind() == reflect.Ptr {
		base = base.Elem()
	}
	if n, ok := names[base]; ok {
		return n
	}
	return t.String()
}

func view(v reflect.Value) interface{} {
	if v.IsValid() && v.Kind() != reflect.Ptr && v.Kind() != reflect.Interface && v.CanInterface() {
		if g, ok := v.Interface().(gob.GobEncoder); ok {
			b, _ := g.GobEncode()
			return map[string]interface{}{"$bytes": hex.EncodeToString(b)}
		}
	}
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Ptr:
		if v.IsNil() {
			return nil
		}
		return view(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return map[string]interface{}{"goType": goName(v.Elem().Type()), "value": view(v.Elem())}
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return fmtFloat(v.Float())
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return map[string]interface{}{"re": fmtFloat(real(c)), "im": fmtFloat(imag(c))}
	case reflect.String:
		return v.String()
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return map[string]interface{}{"$bytes": hex.EncodeToString(v.Bytes())}
		}
		fallthrough
	case reflect.Array:
		out := make([]interface{}, v.Len())
		for i := range out {
			out[i] = view(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]interface{}{}
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = view(iter.Value())
		}
		return out
	case reflect.Struct:
		out := map[string]interface{}{}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				out[f.Name] = view(v.Field(i))
			}
		}
		return out
	}
	return "unsupported kind " + v.Kind().String()
}

func decode(name, h string) map[string]interface{} {
	data, err := hex.DecodeString(h)
	if err != nil {
		return map[string]interface{}{"error": err.Error()}
	}
	dec := gob.NewDecoder(bytes.NewReader(data))
	views := []interface{}{}
	for i, item := range scenarios()[name] {
		target := reflect.New(reflect.TypeOf(item))
		if err := dec.DecodeValue(target); err != nil {
			return map[string]interface{}{"error": fmt.Sprintf("value %d: %v", i, err), "view": views}
		}
		views = append(views, view(target.Elem()))
	}
	var extra interface{}
	if err := dec.Decode(&extra); err != io.EOF {
		return map[string]interface{}{"error": fmt.Sprintf("after the values: %v", err), "view": views}
	}
	return map[string]interface{}{"view": views}
}

func main() {
	out := json.NewEncoder(os.Stdout)
	switch os.Args[1] {
	case "gen":
		items, ok := scenarios()[os.Args[2]]
		if !ok {
			fmt.Fprintln(os.Stderr, "no scenario", os.Args[2])
			os.Exit(2)
		}
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		views := []interface{}{}
		for i, item := range items {
			if err := enc.Encode(item); err != nil {
				fmt.Fprintf(os.Stderr, "value %d: %v\n", i, err)
				os.Exit(1)
			}
			views = append(views, view(reflect.ValueOf(item)))
		}
		out.Encode(map[string]interface{}{"hex": hex.EncodeToString(buf.Bytes()), "view": views})
	case "decode":
		var in map[string]string
		if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		res := map[string]interface{}{}
		for name, h := range in {
			res[name] = decode(name, h)
		}
		out.Encode(res)
	}
}
`;

const buildFixture = () => buildGo('gob-fixture', GO_SOURCE);

interface GoView {
  hex: string;
  view: unknown[];
}

describe.skipIf(goMissing && !process.env.CI)(`gob against Go's encoding/gob${goMissing && !process.env.CI ? ` (skipped: ${goMissing})` : ''}`, () => {
  let fixture = '';
  const fromGo: Record<string, GoView> = {};

  beforeAll(() => {
    if (goMissing) throw new Error(goMissing);
    fixture = buildFixture();
    // One process per scenario: Go numbers types for the whole process, so a fresh one
    // numbers them as a fresh stream of this encoder does.
    for (const name of Object.keys(SCENARIOS)) fromGo[name] = JSON.parse(execFileSync(fixture, ['gen', name], { encoding: 'utf8' })) as GoView;
  }, 300_000);

  const goDecode = (bytes: Record<string, Buffer>): Record<string, { view: unknown[]; error?: string }> =>
    JSON.parse(execFileSync(fixture, ['decode'], { input: JSON.stringify(Object.fromEntries(Object.entries(bytes).map(([k, b]) => [k, b.toString('hex')]))), encoding: 'utf8' })) as Record<
      string,
      { view: unknown[]; error?: string }
    >;

  for (const [name, s] of Object.entries(SCENARIOS)) {
    it(`decodes what Go encodes: ${name}`, () => {
      const go = fromGo[name]!;
      const bytes = Buffer.from(go.hex, 'hex');
      const got = decodeAll(bytes);
      expect(goView(got)).toEqual(go.view);
      expect(goView(got)).toEqual(goView(expectedDecoded(s)));
      // Split at every byte.
      expect(goView(decodeAll(bytes, 1))).toEqual(go.view);
    });

    if (s.decodeOnly) continue;
    it(`writes what Go decodes${s.exact ? ', byte for byte what Go writes' : ''}: ${name}`, () => {
      const go = fromGo[name]!;
      const bytes = encodeAll(s.items);
      const back = goDecode({ [name]: bytes })[name]!;
      expect(back.error).toBeUndefined();
      expect(back.view).toEqual(go.view);
      if (s.exact) expect(bytes.toString('hex')).toBe(go.hex);
    });
  }

  it("names interface values as gob.Register does, and reads libmachine's names", () => {
    const [list] = decodeAll(Buffer.from(fromGo['interfaces']!.hex, 'hex')) as [{ goType: string }[]];
    // gob.Register(&Probe{}) in package main: "*main.Probe"; gob.Register(Inner{}): "main.Inner".
    expect(list.map((v) => v?.goType)).toEqual(['string', 'int', undefined, '[]string', 'main.Inner', 'bool', '*main.Probe', '[]string', 'float64', '[]uint8', 'uint', '[]int']);
    const responses = decodeAll(Buffer.from(fromGo['responses']!.hex, 'hex'));
    expect(responses[0]).toEqual({ ServiceMethod: 'RPCServerDriver.GetVersion', Seq: 0, Error: '' });
    expect(responses[1]).toBe(1);
    expect(responses[3]).toEqual([
      { goType: '*mcnflag.StringFlag', value: { Name: 'amazonec2-ami', Usage: 'AWS machine image', EnvVar: 'AWS_AMI', Value: 'ami-123' } },
      { goType: '*mcnflag.IntFlag', value: { Name: 'amazonec2-root-size', Usage: 'root disk size (GB)', EnvVar: 'AWS_ROOT_SIZE', Value: 16 } },
      { goType: '*mcnflag.IntFlag', value: { Name: 'offset', Usage: '', EnvVar: '', Value: -300 } },
      { goType: '*mcnflag.BoolFlag', value: { Name: 'amazonec2-private-address-only', Usage: 'only private', EnvVar: '' } },
      { goType: '*mcnflag.StringSliceFlag', value: { Name: 'amazonec2-tags', Usage: 'tags', EnvVar: '', Value: ['a', 'b c', ''] } },
      { goType: '*mcnflag.StringSliceFlag', value: { Name: 'amazonec2-security-group', Usage: '', EnvVar: '', Value: [] } },
      { goType: '*mcnflag.StringFlag', value: { Name: 'pointer-flag', Usage: '', EnvVar: '', Value: 'p' } },
      { goType: '*mcnflag.StringFlag', value: { Name: '', Usage: '', EnvVar: '', Value: '' } },
    ]);
    expect(responses[10]).toEqual({ ServiceMethod: 'RPCServerDriver.Create', Seq: 5, Error: 'boom: quota exceeded' });
    expect(responses[11]).toEqual({});
    expect(responses[9]).toEqual(Buffer.from('{"Driver":{}}'));
    const maps = decodeAll(Buffer.from(fromGo['maps']!.hex, 'hex'));
    const values = (maps[1] as { goType: string; value: { Values: Map<string, unknown> } }).value.Values;
    expect((maps[1] as { goType: string }).goType).toBe('*rpcdriver.RPCFlags');
    expect(Object.fromEntries(values)).toEqual({
      s: { goType: 'string', value: 'str' },
      empty: { goType: 'string', value: '' },
      i: { goType: 'int', value: 42 },
      zero: { goType: 'int', value: 0 },
      neg: { goType: 'int', value: -7 },
      big: { goType: 'int', value: 2n ** 62n },
      t: { goType: 'bool', value: true },
      f: { goType: 'bool', value: false },
      list: { goType: '[]string', value: ['x', 'y'] },
      nolist: { goType: '[]string', value: [] },
      nil: null,
    });
  });
});
