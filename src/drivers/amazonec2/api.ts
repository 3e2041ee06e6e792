import { proxyAgentFor } from '../../sys/proxy.js';
import { existsSync, readFileSync } from 'node:fs';
import { DriverError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Ec2Settings } from './flags.js';

// Everything from @aws-sdk/client-ec2 is loaded here, on the first call: `env`, `config` and
// `url` never pay for the SDK, and `ls` only when amazonec2 machines exist.
export type Ec2 = typeof import('@aws-sdk/client-ec2');
export type Ec2Client = InstanceType<Ec2['EC2Client']>;
export const sdk = (): Promise<Ec2> => import('@aws-sdk/client-ec2');

/**
 * After an interrupt, a call already sent is given this long to answer: what it made is then
 * known and removed. Cutting it short would leave a key pair, group or instance that only
 * the tags can find.
 */
export const IN_FLIGHT_GRACE_MS = 30_000;

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** One line for the user from an AWS error, with what to do about it. */
export function awsError(err: unknown, doing: string): DriverError {
  const e = err as { name?: string; message?: string; Code?: string };
  const code = e.name ?? e.Code ?? 'Error';
  const hints: Record<string, string> = {
    AuthFailure: 'check --amazonec2-access-key/--amazonec2-secret-key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or your AWS profile',
    UnauthorizedOperation: 'the credentials lack permission for this call',
    InsufficientInstanceCapacity: 'try another --amazonec2-zone or --amazonec2-instance-type, or later',
    InstanceLimitExceeded: 'raise the instance quota for this region or remove unused instances',
    'InvalidAMIID.NotFound': 'check --amazonec2-ami for this region',
    'InvalidAMIID.Malformed': 'check --amazonec2-ami',
    'InvalidSubnetID.NotFound': 'check --amazonec2-subnet-id for this region',
    'InvalidVpcID.NotFound': 'check --amazonec2-vpc-id for this region',
    RequestLimitExceeded: 'AWS kept throttling; raise --amazonec2-retries or try again later',
    AbortError: 'the call was cut short after an interrupt; run rm on the machine to remove what it may have made',
  };
  const hint = hints[code];
  return new DriverError(`AWS ${doing} failed (${code}): ${(e.message ?? '').trim()}${hint ? `: ${hint}` : ''}`, { cause: err });
}

/** An AWS error's code, for the few a caller handles (NotFound, DependencyViolation). */
export const awsCode = (err: unknown): string => ((err as DriverError).cause as Error | undefined)?.name ?? (err as Error).name;

/**
 * One EC2 client per machine: credentials from flags (kept in the machine's 0600 file), from a
 * Docker Machine record, or the SDK's own chain; every call logged under --debug.
 */
export class Ec2Api {
  private client?: Ec2Client;

  constructor(
    private readonly cfg: () => Ec2Settings,
    private readonly credentialsFile: string,
    private readonly log: Logger,
    private readonly signal?: AbortSignal,
    private readonly given?: Credentials,
  ) {}

  /** What the client signs with; undefined leaves it to the SDK's chain. */
  credentials(): Credentials | undefined {
    if (this.given) return this.given;
    if (existsSync(this.credentialsFile)) return JSON.parse(readFileSync(this.credentialsFile, 'utf8')) as Credentials;
    const c = this.cfg();
    if (c.AccessKey) return { accessKeyId: c.AccessKey, secretAccessKey: c.SecretKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) };
    return undefined;
  }

  private async ec2(): Promise<Ec2Client> {
    if (this.client) return this.client;
    const { EC2Client } = await sdk();
    const c = this.cfg();
    const credentials = this.credentials();
    // The SDK ignores HTTP(S)_PROXY on its own: the agent for the endpoint it will call does it.
    const endpointUrl = c.Endpoint || `https://ec2.${c.Region}.amazonaws.com/`;
    const agent = await proxyAgentFor(endpointUrl);
    this.client = new EC2Client({
      ...(agent ? { requestHandler: endpointUrl.startsWith('https:') ? { httpsAgent: agent } : { httpAgent: agent } } : {}),
      region: c.Region,
      maxAttempts: c.RetryCount + 1,
      ...(c.Endpoint ? { endpoint: c.Endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const started = Date.now();
        try {
          const out = await next(args);
          this.log.debug(`aws ec2 ${context.commandName} -> ok (${Date.now() - started} ms)`);
          return out;
        } catch (err) {
          this.log.debug(`aws ec2 ${context.commandName} -> ${(err as Error).name} (${Date.now() - started} ms)`);
          throw err;
        }
      },
      { step: 'initialize', name: 'machineDebugLog' },
    );
    return this.client;
  }

  /**
   * One API call. An interrupt does not cut it: it may already have made something, which
   * the caller records and the rollback removes. Only a call still unanswered
   * IN_FLIGHT_GRACE_MS after the interrupt is abandoned.
   */
  async call<T>(doing: string, fn: (m: Ec2, c: Ec2Client, opts: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
    const m = await sdk();
    const client = await this.ec2();
    const cut = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => cut.abort(), IN_FLIGHT_GRACE_MS);
    };
    if (this.signal?.aborted) onAbort();
    else this.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await fn(m, client, { abortSignal: cut.signal });
    } catch (err) {
      throw awsError(err, doing);
    } finally {
      clearTimeout(timer);
      this.signal?.removeEventListener('abort', onAbort);
    }
  }
}
