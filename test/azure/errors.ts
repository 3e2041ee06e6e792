// ARM's error answers: `{"error":{"code","message"}}` with the status ARM or the resource
// provider gives. Each text below is copied from a real answer quoted in public material
// (drivers-test-fixtures/azure/SOURCES.md names where); ids and names are filled in.

export interface ErrorBody {
  code: string;
  message: string;
  target?: string;
  details?: ErrorBody[];
}

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly target?: string,
  ) {
    super(message);
  }

  body(): { error: ErrorBody } {
    return { error: { code: this.code, message: this.message, ...(this.target ? { target: this.target } : {}) } };
  }
}

/** What ARM says where the token is missing or not valid (401 with a bearer challenge). */
export function unauthenticated(missing: boolean): ArmError {
  const description = missing ? "The authentication failed because of missing 'Authorization' header." : 'The access token is invalid.';
  const challenge = `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="${description}"`;
  return missing
    ? new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", { 'WWW-Authenticate': challenge })
    : new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', { 'WWW-Authenticate': challenge });
}

export const subscriptionNotFound = (sub: string) => new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);

export const throttled = (sub: string, kind: 'read' | 'write' | 'delete') =>
  new ArmError(
    429,
    'SubscriptionRequestsThrottled',
    `Number of '${kind}' requests for subscription '${sub}' actor '00000000-0000-0000-0000-0000000a11ce' exceeded. Please try again after '1' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.`,
    { 'Retry-After': '1' },
  );

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

export const internalError = (sub: string, id: string) =>
  new ArmError(500, 'InternalServerError', `Encountered internal server error. Diagnostic information: timestamp '${stamp()}', subscription id '${sub}', tracking id '${id}', request correlation id '${id}'.`);

export const serverTimeout = (sub: string, id: string) =>
  new ArmError(503, 'ServerTimeout', `The request timed out. Diagnostic information: timestamp '${stamp()}', subscription id '${sub}', tracking id '${id}', request correlation id '${id}'.`);

export const missingApiVersion = () => new ArmError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');

export const resourceGroupNotFound = (rg: string) => new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);

export const resourceGroupBeingDeleted = (rg: string) =>
  new ArmError(409, 'ResourceGroupBeingDeleted', `The resource group '${rg}' is in deprovisioning state and cannot perform this operation.`);

/** ARM's answer for a top-level resource that is not there. */
export const resourceNotFound = (type: string, name: string, rg: string) =>
  new ArmError(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);

/** The network provider's answer for a child resource (a subnet) that is not there. */
export const nrpNotFound = (id: string) => new ArmError(404, 'NotFound', `Resource ${id} not found.`);

export const parentNotFound = (parent: string) =>
  new ArmError(404, 'ParentResourceNotFound', `Can not perform requested operation on nested resource. Parent resource '${parent}' not found.`);

export const invalidReference = (ref: string, by: string) =>
  new ArmError(400, 'InvalidResourceReference', `Resource ${ref} referenced by resource ${by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`);

export const subnetInUse = (subnet: string, by: string) =>
  new ArmError(400, 'InUseSubnetCannotBeDeleted', `Subnet ${subnet} is in use by ${by} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`);

export const nsgInUse = (nsg: string, by: string[]) =>
  new ArmError(400, 'InUseNetworkSecurityGroupCannotBeDeleted', `Network security group ${nsg} cannot be deleted because it is in use by the following resources: ${by.join(', ')}. In order to delete the Network security group, remove the association with the resource(s).`);

export const publicIpInUse = (ip: string, by: string) =>
  new ArmError(
    400,
    'PublicIPAddressCannotBeDeleted',
    `Public IP address ${ip} can not be deleted since it is still allocated to resource ${by}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.  To learn how to do this, see aka.ms/deletepublicip.`,
  );

export const nicInUse = (nic: string, vm: string) =>
  new ArmError(400, 'NicInUse', `Network Interface ${nic} is used by existing resource ${vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`);

export const standardMustBeStatic = (ip: string) =>
  new ArmError(400, 'StandardAndStandardV2SkuPublicIPAddressesMustBeStatic', `Standard sku publicIp ${ip} must have AllocationMethod set to Static.`);

export const invalidVmSize = (size: string, valid: string[]) =>
  new ArmError(400, 'InvalidParameter', `The value ${size} provided for the VM size is not valid. The valid sizes in the current region are: ${valid.join(',')}.`, {}, 'vmSize');

export const imageNotFound = (urn: string) =>
  new ArmError(
    404,
    'PlatformImageNotFound',
    `The platform image '${urn}' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile`,
    {},
    'imageReference',
  );

export const quotaExceeded = (sub: string, location: string) =>
  new ArmError(
    409,
    'OperationNotAllowed',
    `Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: ${location}, Current Limit: 10, Current Usage: 8, Additional Required: 4, (Minimum) New Limit Required: 12. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/?#create/Microsoft.Support/Parameters/%7B%22subId%22:%22${sub}%22,%22pesId%22:%2206bfd9d3-516b-d5c6-5802-169c800dec89%22,%22supportTopicId%22:%22e12e3d1d-7fa0-af33-c6d0-3c50df9658a3%22%7D by specifying parameters listed in the ‘Details’ section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/per-vm-quota-requests.`,
  );

/** Restarting a VM that does not run (wording not verified against a recorded answer). */
export const notRunning = (vm: string, power: string) =>
  new ArmError(409, 'OperationNotAllowed', `Operation 'restart' is not allowed on VM '${vm}' since the VM is ${power === 'deallocated' ? 'deallocated' : 'not running'}.`);

export const diskAttached = (disk: string, vm: string) => new ArmError(409, 'OperationNotAllowed', `Disk ${disk} is attached to VM ${vm}.`);

export const availabilitySetInUse = (name: string) =>
  new ArmError(409, 'OperationNotAllowed', `Availability set '${name}' cannot be deleted. Before deleting an availability set please ensure that it does not contain any VM.`);

export const invalidRgLocation = (_rg: string, want: string, have: string) =>
  new ArmError(409, 'InvalidResourceGroupLocation', `Invalid resource group location '${want}'. The Resource group already exists in location '${have}'.`);

/** A VM create the backend could not do: the words of CRP's InternalOperationError status. */
export const internalOperation = (detail: string): ErrorBody => ({
  code: 'InternalOperationError',
  message: `Operation abandoned due to internal error. Please try again later. (${detail})`,
});
