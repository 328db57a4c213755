// Node through airlock's proxy, for tests/e2e/t_proxy_node.sh.
// node node_proxy.js MODE URL
//   connect: CONNECT by hand through $HTTPS_PROXY (what a proxy agent
//            does), then https over the tunnel with
//            "Authorization: Bearer $TOK"; the run's CA is trusted through
//            NODE_EXTRA_CA_CERTS only.
//   direct:  https.get(URL) as a program that ignores the proxy variables
//            does (NODE_USE_ENV_PROXY=1 makes Node 24 and later use them).
//   fetch:   the global fetch, the same way.
// Prints "status N BODY" or "error CODE".
'use strict';
const http = require('http');
const https = require('https');
const tls = require('tls');

const [mode, url] = process.argv.slice(2);
const target = new URL(url);
const headers = { Authorization: 'Bearer ' + (process.env.TOK || '') };

function done(res) {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d) => { body += d; });
  res.on('end', () => console.log('status', res.statusCode, body));
}

function fail(e) {
  console.log('error', e.code || (e.cause && e.cause.code) || e.message);
}

if (mode === 'connect') {
  const p = new URL(process.env.HTTPS_PROXY);
  const auth = Buffer.from(decodeURIComponent(p.username) + ':' +
    decodeURIComponent(p.password)).toString('base64');
  const hostport = `${target.hostname}:${target.port || 443}`;
  const req = http.request({
    host: p.hostname, port: p.port, method: 'CONNECT', path: hostport,
    headers: { Host: hostport, 'Proxy-Authorization': 'Basic ' + auth },
  });
  req.on('connect', (res, socket) => {
    if (res.statusCode !== 200) {
      console.log('connect', res.statusCode);
      socket.destroy();
      return;
    }
    https.get({
      host: target.hostname, port: target.port, path: target.pathname,
      headers,
      createConnection: (o) => tls.connect({ ...o, socket }),
    }, done).on('error', fail);
  });
  req.on('error', fail);
  req.end();
} else if (mode === 'direct') {
  https.get(url, { headers, timeout: 5000 }, done).on('error', fail)
    .on('timeout', function () { this.destroy(new Error('timeout')); });
} else if (mode === 'fetch') {
  fetch(url, { headers, signal: AbortSignal.timeout(5000) })
    .then(async (r) => console.log('status', r.status, await r.text()))
    .catch(fail);
}
