// The floor under `machine ls` of one machine: a bare node process that makes the one TLS
// call ls cannot avoid (GET /_ping with the machine's client pair, as ls asks), and nothing
// else. No
// server name for an address, as ls sends none: Node warns about one (DEP0123), and printing
// the warning cost this floor a few milliseconds ls does not spend.
const https = require('node:https');
const { isIP } = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const [url, dir] = process.argv.slice(2);
const u = new URL(url.replace(/^tcp:/, 'https:'));
const read = (f) => fs.readFileSync(path.join(dir, f));
https
  .get({ host: u.hostname, port: u.port, path: '/_ping', ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem'), servername: isIP(u.hostname) ? undefined : u.hostname }, (res) => {
    res.resume();
    res.on('end', () => process.exit(res.statusCode === 200 ? 0 : 1));
  })
  .on('error', (e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
