import { connect, type Socket } from 'node:net';
import { GobDecoder, GobEncoder, gt, type GoType } from './gob.js';

// A client of Go's net/rpc as Docker Machine's driver plugins serve it: over HTTP CONNECT
// (rpc.DialHTTP), then one gob stream each way. A call is a Request header and its
// argument; the answer a Response header (ServiceMethod, Seq, Error) and the reply, which is
// an empty struct when the call failed (Response.Error says why). Gob sends each type before
// its first value, so the answers are read by the types they come with.

const REQUEST = gt.struct('Request', [
  ['ServiceMethod', gt.string],
  ['Seq', gt.uint],
]);
/** Go's `struct{}{}`: what libmachine passes where a call takes no argument. */
export const EMPTY = gt.emptyStruct;

/** The plugin answered with an error (the Go driver's own message). */
export class RpcCallError extends Error {}
/** The connection failed or closed: the plugin died or never answered. */
export class RpcConnectionError extends Error {}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class RpcClient {
  private readonly encoder = new GobEncoder();
  private readonly decoder = new GobDecoder();
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  /** A Response header waiting for its body. */
  private header?: { Seq: number; Error: string };
  private closed?: Error;

  private constructor(private readonly socket: Socket) {
    // Idle, the connection does not keep the process alive; a call in flight does.
    socket.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error) => this.failAll(new RpcConnectionError(err.message));
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the plugin closed the connection')));
  }

  /** Connects as rpc.DialHTTP does: CONNECT /_goRPC_, then "200 Connected to Go RPC". */
  static async dial(address: string, timeoutMs = 10_000): Promise<RpcClient> {
    const [host, port] = splitHostPort(address);
    const socket = connect({ host, port });
    return new Promise<RpcClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RpcConnectionError(`no answer from ${address} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      let head = Buffer.alloc(0);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new RpcConnectionError(`cannot reach ${address}: ${err.message}`));
      };
      socket.once('error', onError);
      socket.once('connect', () => socket.write('CONNECT /_goRPC_ HTTP/1.0\n\n'));
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\n\n');
        if (end < 0) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        const status = head.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.[01] 200 /.test(status)) {
          socket.destroy();
          reject(new RpcConnectionError(`${address} did not accept the RPC connection: ${status.split('\n')[0]}`));
          return;
        }
        const client = new RpcClient(socket);
        const rest = head.subarray(end + 2);
        if (rest.length) client.onData(rest);
        resolve(client);
      };
      socket.on('data', onData);
    });
  }

  /** One call; `argType` and `arg` are what the Go method takes, the reply is decoded. */
  call<T = unknown>(serviceMethod: string, argType: GoType = EMPTY, arg: unknown = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.ref();
      const bytes = Buffer.concat([this.encoder.encode(REQUEST, { ServiceMethod: serviceMethod, Seq: seq }), this.encoder.encode(argType, arg)]);
      this.socket.write(bytes);
    });
  }

  /** The connection failed or was closed: no call can succeed any more. */
  get broken(): boolean {
    return this.closed !== undefined;
  }

  close(): void {
    this.failAll(new RpcConnectionError('closed'));
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
      for (let value = this.decoder.next(); value !== undefined; value = this.decoder.next()) {
        if (!this.header) {
          const h = value as { Seq?: number | bigint; Error?: string };
          this.header = { Seq: Number(h.Seq ?? 0), Error: h.Error ?? '' };
          continue;
        }
        const { Seq, Error: message } = this.header;
        this.header = undefined;
        const p = this.pending.get(Seq);
        this.pending.delete(Seq);
        if (!this.pending.size) this.socket.unref();
        if (!p) continue;
        if (message) p.reject(new RpcCallError(message));
        else p.resolve(value);
      }
    } catch (err) {
      this.failAll(new RpcConnectionError(`unreadable answer from the plugin: ${(err as Error).message}`));
      this.socket.destroy();
    }
  }

  private failAll(err: Error): void {
    this.closed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  return [host, Number(address.slice(i + 1))];
}
