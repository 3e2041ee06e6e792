import type { TokenCredential } from '@azure/core-auth';
import { DriverError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { CLOUDS, type AzureSettings } from './flags.js';

// The Azure SDKs load here, on the first call of a command that needs them: `env`, `ls`,
// `config` and `url` never pay for them.

export interface AzureClients {
  resources: import('@azure/arm-resources').ResourceManagementClient;
  network: import('@azure/arm-network').NetworkManagementClient;
  compute: import('@azure/arm-compute').ComputeManagementClient;
}

/** One line for the user from an SDK error, with what to do about it. */
export function azureError(err: unknown, doing: string): DriverError {
  const e = err as { code?: string; statusCode?: number; message?: string; name?: string };
  let code = e.code ?? e.name ?? 'Error';
  // The SDK's messages can span lines (JSON bodies, inner errors): the first says it.
  let message = String(e.message ?? '').split('\n')[0]!.trim();
  // A long-running operation that ended Failed rejects with a plain Error whose message
  // holds ARM's code: "The long-running operation has failed. CODE. MESSAGE".
  const lro = /^The long-running operation has failed\. ([A-Za-z][\w.]*)\. (.*)$/.exec(message);
  if (lro) [code, message] = [lro[1]!, lro[2]!];
  // DefaultAzureCredential's chain fails as a whole; what each credential said is inside.
  const inner = (err as { errors?: Array<{ name?: string; message?: string }> }).errors;
  if (e.name === 'AggregateAuthenticationError' && inner?.length) {
    code = inner[inner.length - 1]!.name ?? code;
    message = inner.map((x) => String(x.message ?? '').split('\n')[0]!.trim()).join('; ');
  }
  const hints: Record<string, string> = {
    CredentialUnavailableError: 'log in with "az login", or pass --azure-client-id, --azure-client-secret and --azure-tenant-id (or AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID)',
    AuthenticationError: 'check --azure-client-id, --azure-client-secret and --azure-tenant-id',
    InvalidAuthenticationToken: 'the credentials were refused: log in again ("az login") or check the service principal',
    AuthorizationFailed: 'the credentials lack permission in this subscription or resource group',
    SubscriptionNotFound: 'check --azure-subscription-id',
    OperationNotAllowed: 'raise the quota for this VM family in the region, or pick another --azure-size or --azure-location',
    SkuNotAvailable: 'pick another --azure-size or --azure-location',
    PlatformImageNotFound: 'check --azure-image (publisher:offer:sku:version) for this region',
  };
  const hint = hints[code];
  return new DriverError(`Azure ${doing} failed (${code}): ${message}${hint ? `: ${hint}` : ''}`, { cause: err });
}

/** Whether an SDK error is ARM's "not there". */
export function isNotFound(err: unknown): boolean {
  const e = ((err as DriverError).cause ?? err) as { statusCode?: number };
  return e.statusCode === 404;
}

export const errorCode = (err: unknown): string => (((err as DriverError).cause ?? err) as { code?: string }).code ?? '';

/**
 * The credential: a service principal when its ID and secret are given (the secret from the
 * flag at create, from AZURE_CLIENT_SECRET after: it is never stored), else
 * DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI).
 */
async function credential(cfg: AzureSettings, secret: string): Promise<TokenCredential> {
  const identity = await import('@azure/identity');
  // AZURE_AUTHORITY_HOST (the SDK's own variable) names another authority: an Azure Stack
  // Hub's, whose instance Microsoft's discovery service does not know.
  const custom = process.env.AZURE_AUTHORITY_HOST;
  const authorityHost = custom || CLOUDS[cfg.Environment]?.authority;
  const options = { ...(authorityHost ? { authorityHost } : {}), ...(custom ? { disableInstanceDiscovery: true } : {}) };
  const clientSecret = secret || process.env.AZURE_CLIENT_SECRET || cfg.ClientSecret;
  if (cfg.ClientID && clientSecret && cfg.TenantID) {
    return new identity.ClientSecretCredential(cfg.TenantID, cfg.ClientID, clientSecret, options);
  }
  return new identity.DefaultAzureCredential(options);
}

export async function azureClients(cfg: AzureSettings, secret: string, log: Logger): Promise<AzureClients> {
  const [{ ResourceManagementClient }, { NetworkManagementClient }, { ComputeManagementClient }] = await Promise.all([
    import('@azure/arm-resources'),
    import('@azure/arm-network'),
    import('@azure/arm-compute'),
  ]);
  const cred = await credential(cfg, secret);
  const endpoint = cfg.ResourceManagerEndpoint || CLOUDS[cfg.Environment]!.arm;
  const scopes = [`${endpoint}/.default`];
  // Every call under --debug, with its status.
  const debugPolicy = {
    name: 'machineDebugLog',
    async sendRequest(request: { method: string; url: string }, next: (r: never) => Promise<{ status: number }>) {
      const started = Date.now();
      const res = await next(request as never);
      log.debug(`azure ${request.method} ${new URL(request.url).pathname} -> ${res.status} (${Date.now() - started} ms)`);
      return res;
    },
  };
  // The SDKs share one retry budget between throttling (429) and transient 5xx; three is
  // soon spent when ARM is busy.
  const common = { endpoint, credentialScopes: scopes, retryOptions: { maxRetries: 6 }, additionalPolicies: [{ policy: debugPolicy as never, position: 'perRetry' as const }] };
  return {
    resources: new ResourceManagementClient(cred, cfg.SubscriptionID, common),
    network: new NetworkManagementClient(cred, cfg.SubscriptionID, common),
    compute: new ComputeManagementClient(cred, cfg.SubscriptionID, { ...common, credentials: { scopes } }),
  };
}
