// Go types for the gob codec (see gob.ts). JavaScript values carry no Go type, so the
// encoder is told the type of what it encodes with these descriptors.

/** Go types gob sends as a predefined id: no type definition goes on the wire for them. */
export type GoBasicKind = 'bool' | 'int' | 'uint' | 'float' | 'complex' | 'string' | 'bytes' | 'interface';

export interface GoBasic {
  readonly kind: GoBasicKind;
}
export interface GoSlice {
  readonly kind: 'slice';
  readonly elem: GoType;
  /** The Go name of a named slice type (`type Tags []string`); unnamed when absent. */
  readonly name?: string;
}
export interface GoArray {
  readonly kind: 'array';
  readonly elem: GoType;
  readonly len: number;
  readonly name?: string;
}
export interface GoMap {
  readonly kind: 'map';
  readonly key: GoType;
  readonly elem: GoType;
  readonly name?: string;
}
export type GoField = readonly [name: string, type: GoType];
export interface GoStruct {
  readonly kind: 'struct';
  /** The Go type's name without its package (`StringFlag`); '' for an anonymous struct. */
  readonly name: string;
  /** In Go's order: a field's number on the wire is its index here. */
  readonly fields: readonly GoField[];
}
export type GoType = GoBasic | GoSlice | GoArray | GoMap | GoStruct;

/** A Go interface value to encode: the concrete type's registered name, its type and value. */
export interface GoInterfaceValue {
  goType: string;
  type: GoType;
  value: unknown;
}
/** A Go interface value as the decoder returns it (nil interfaces decode as null). */
export interface DecodedInterface {
  goType: string;
  value: unknown;
}
/** A Go complex64/complex128 value. */
export interface GoComplex {
  re: number;
  im: number;
}

/** A malformed stream (decoding) or a value that does not fit its Go type (encoding). */
export class GobError extends Error {
  override name = 'GobError';
}

const basic = (kind: GoBasicKind): GoBasic => Object.freeze({ kind });

function struct(name: string, fields: readonly GoField[] | (() => readonly GoField[])): GoStruct {
  let resolved: readonly GoField[] | undefined = typeof fields === 'function' ? undefined : checkFields(name, fields);
  return Object.freeze({
    kind: 'struct' as const,
    name,
    get fields(): readonly GoField[] {
      resolved ??= checkFields(name, (fields as () => readonly GoField[])());
      return resolved;
    },
  });
}

function checkFields(name: string, fields: readonly GoField[]): readonly GoField[] {
  const seen = new Set<string>();
  for (const [field, type] of fields) {
    if (!field || seen.has(field)) throw new GobError(`gob: struct ${name || '{}'}: empty or repeated field name ${JSON.stringify(field)}`);
    if (!type || typeof type !== 'object' || !('kind' in type)) throw new GobError(`gob: struct ${name || '{}'}: field ${field} has no type`);
    seen.add(field);
  }
  return Object.freeze(fields.slice());
}

/**
 * Go type descriptors. Go's sized variants share gob's wire types: `gt.int` is every signed
 * integer type (int, int8 … int64, and named ones such as state.State), `gt.uint` every
 * unsigned one, `gt.float` float32 and float64, `gt.complex` both complex types. Pointers
 * are not described: gob sends what they point to (a nil pointer is a null field, omitted).
 */
export const gt = {
  bool: basic('bool'),
  int: basic('int'),
  uint: basic('uint'),
  float: basic('float'),
  complex: basic('complex'),
  string: basic('string'),
  /** []byte (and []uint8): a Buffer or Uint8Array. */
  bytes: basic('bytes'),
  /** Any Go interface type; values are GoInterfaceValue or null. */
  interface: basic('interface'),
  slice: (elem: GoType, name?: string): GoSlice => Object.freeze(name === undefined ? { kind: 'slice' as const, elem } : { kind: 'slice' as const, elem, name }),
  array: (elem: GoType, len: number, name?: string): GoArray => {
    if (!Number.isSafeInteger(len) || len < 0) throw new GobError(`gob: bad array length ${len}`);
    return Object.freeze(name === undefined ? { kind: 'array' as const, elem, len } : { kind: 'array' as const, elem, len, name });
  },
  map: (key: GoType, elem: GoType, name?: string): GoMap => Object.freeze(name === undefined ? { kind: 'map' as const, key, elem } : { kind: 'map' as const, key, elem, name }),
  /** Fields may be given as a function for recursive types: `const N = gt.struct('N', () => [['Next', N]])`. */
  struct,
  /** Go's `struct{}`. */
  emptyStruct: struct('', []),
} as const;

// The ids gob predefines on every stream.
export const ID_BOOL = 1;
export const ID_INT = 2;
export const ID_UINT = 3;
export const ID_FLOAT = 4;
export const ID_BYTES = 5;
export const ID_STRING = 6;
export const ID_COMPLEX = 7;
export const ID_INTERFACE = 8;
export const ID_WIRE_TYPE = 16;
/** The first id of a type defined on the stream. */
export const FIRST_USER_ID = 64;

export const BASIC_IDS: Readonly<Record<GoBasicKind, number>> = {
  bool: ID_BOOL,
  int: ID_INT,
  uint: ID_UINT,
  float: ID_FLOAT,
  bytes: ID_BYTES,
  string: ID_STRING,
  complex: ID_COMPLEX,
  interface: ID_INTERFACE,
};

// gob's own description of a type (its wireType and the types under it), as Go declares them.
const COMMON_TYPE = gt.struct('CommonType', [['Name', gt.string], ['Id', gt.int]]);
const ARRAY_TYPE = gt.struct('arrayType', [['CommonType', COMMON_TYPE], ['Elem', gt.int], ['Len', gt.int]]);
const SLICE_TYPE = gt.struct('sliceType', [['CommonType', COMMON_TYPE], ['Elem', gt.int]]);
const FIELD_TYPE = gt.struct('fieldType', [['Name', gt.string], ['Id', gt.int]]);
const STRUCT_TYPE = gt.struct('structType', [['CommonType', COMMON_TYPE], ['Field', gt.slice(FIELD_TYPE)]]);
const MAP_TYPE = gt.struct('mapType', [['CommonType', COMMON_TYPE], ['Key', gt.int], ['Elem', gt.int]]);
const GOB_ENCODER_TYPE = gt.struct('gobEncoderType', [['CommonType', COMMON_TYPE]]);
export const WIRE_TYPE = gt.struct('wireType', [
  ['ArrayT', ARRAY_TYPE],
  ['SliceT', SLICE_TYPE],
  ['StructT', STRUCT_TYPE],
  ['MapT', MAP_TYPE],
  ['GobEncoderT', GOB_ENCODER_TYPE],
  ['BinaryMarshalerT', GOB_ENCODER_TYPE],
  ['TextMarshalerT', GOB_ENCODER_TYPE],
]);
/** The predefined ids of those types, as every gob stream knows them (24 is internal here). */
export const WIRE_TYPE_IDS: ReadonlyArray<readonly [number, GoStruct | GoSlice]> = [
  [ID_WIRE_TYPE, WIRE_TYPE],
  [17, ARRAY_TYPE],
  [18, COMMON_TYPE],
  [19, SLICE_TYPE],
  [20, STRUCT_TYPE],
  [21, FIELD_TYPE],
  [22, STRUCT_TYPE.fields[1]![1] as GoSlice],
  [23, MAP_TYPE],
  [24, GOB_ENCODER_TYPE],
];

/** What reflect's Type.String() says of an unnamed type (gob uses it to name some types). */
export function goTypeString(t: GoType): string {
  switch (t.kind) {
    case 'bool':
    case 'int':
    case 'uint':
    case 'string':
      return t.kind;
    case 'float':
      return 'float64';
    case 'complex':
      return 'complex128';
    case 'bytes':
      return '[]uint8';
    case 'interface':
      return 'interface {}';
    case 'slice':
      return `[]${elemString(t.elem)}`;
    case 'array':
      return `[${t.len}]${elemString(t.elem)}`;
    case 'map':
      return `map[${elemString(t.key)}]${elemString(t.elem)}`;
    case 'struct':
      if (t.name) return t.name;
      return t.fields.length ? `struct { ${t.fields.map(([n, ft]) => `${n} ${elemString(ft)}`).join('; ')} }` : 'struct {}';
  }
}

function elemString(t: GoType): string {
  return (t.kind !== 'struct' && 'name' in t && t.name) || goTypeString(t);
}
