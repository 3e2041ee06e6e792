// Go's encoding/gob wire format, as Go's net/rpc speaks it between Docker Machine and its
// driver plugins. A stream is one direction of a connection: a GobEncoder writes one, a
// GobDecoder reads one; each keeps the types defined on its stream.
//
// The format (Go's encoding/gob documentation): every message is its byte count then either
// a type definition (-id, wireType) or a value (id, value); types are defined once per stream
// before the first value that needs them, and a value's interface fields may carry the
// definitions of their concrete types in the middle of the value, as Go's encoder puts them.

export { GobEncoder } from './gob-encoder.js';
export { GobDecoder, type GobDecoderOptions } from './gob-decoder.js';
export {
  GobError,
  gt,
  type DecodedInterface,
  type GoArray,
  type GoBasic,
  type GoBasicKind,
  type GoComplex,
  type GoField,
  type GoInterfaceValue,
  type GoMap,
  type GoSlice,
  type GoStruct,
  type GoType,
} from './gob-types.js';
