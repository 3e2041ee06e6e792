// The floor under `machine ls` of many machines: a bare node process making the same network
// calls ls makes, with the same fan-out, and nothing else: for each reachable machine a TCP
// probe of its SSH port and then GET /_ping over TLS with the client pair; for each
// unreachable one a probe of a closed port. Prints nothing; its wall time is the figure.
const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const path = require('node:path');
const [ip, certDir, reachable, unreachable, fanOut] = process.argv.slice(2);
const read = (f) => fs.readFileSync(path.join(certDir, f));
const secureContext = tls.createSecureContext({ ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') });
const probe = (host, port) =>
  new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok) => (s.destroy(), resolve(ok));
    s.setTimeout(3000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
// GET /_ping as ls makes it (src/engine/tls-api.ts): node:tls alone, the request and the
// answer's head by hand (node:https costs its HTTP client and agent per call).
const ping = () =>
  new Promise((resolve, reject) => {
    const s = tls.connect({ host: ip, port: 2376, secureContext, checkServerIdentity: () => undefined });
    let head = '';
    s.once('secureConnect', () => s.write(`GET /_ping HTTP/1.1\r\nHost: ${ip}:2376\r\nConnection: close\r\n\r\n`));
    s.setEncoding('latin1');
    s.on('data', (c) => {
      head += c;
      if (head.includes('\r\n\r\n')) (s.destroy(), resolve());
    });
    s.on('error', reject);
  });
const jobs = [
  ...Array.from({ length: Number(reachable) }, () => async () => (await probe(ip, 22)) && ping()),
  ...Array.from({ length: Number(unreachable) }, () => () => probe('127.0.0.1', 1)),
];
let next = 0;
const worker = async () => {
  while (next < jobs.length) await jobs[next++]();
};
Promise.all(Array.from({ length: Number(fanOut) }, worker)).then(
  () => process.exit(0),
  (e) => (process.stderr.write(`${e.message}\n`), process.exit(1)),
);
