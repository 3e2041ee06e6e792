import { join } from 'node:path';

export interface AuthPaths {
  certDir: string;
  caCertPath: string;
  caPrivateKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  storePath: string;
}

/** Docker Machine's file names: certs/{ca,ca-key,cert,key}.pem and the machine's server pair. */
export function defaultAuthPaths(storeRoot: string, machineName: string): AuthPaths {
  const certDir = join(storeRoot, 'certs');
  const machineDir = join(storeRoot, 'machines', machineName);
  return {
    certDir,
    caCertPath: join(certDir, 'ca.pem'),
    caPrivateKeyPath: join(certDir, 'ca-key.pem'),
    clientCertPath: join(certDir, 'cert.pem'),
    clientKeyPath: join(certDir, 'key.pem'),
    serverCertPath: join(machineDir, 'server.pem'),
    serverKeyPath: join(machineDir, 'server-key.pem'),
    storePath: machineDir,
  };
}
