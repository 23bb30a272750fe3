// The maintenance page the project ships for Kubernetes: while a procedure holds the cluster, the
// app's Service selects this Deployment's pods instead of NocoBase's, and every request gets 503
// with the page (Retry-After, no caching). /__maintenance/health answers 200 for the probes.
// No dependencies: node's own http server.
import fs from 'node:fs';
import http from 'node:http';

const page = fs.readFileSync(process.env.MAINTENANCE_PAGE_FILE ?? new URL('./maintenance.html', import.meta.url));
const port = Number(process.env.PORT ?? 13000);

const server = http.createServer((request, response) => {
  if (request.url === '/__maintenance/health') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok\n');
    return;
  }
  response.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'retry-after': '120', 'cache-control': 'no-store' });
  response.end(page);
});
server.listen(port, () => process.stdout.write(`maintenance page on :${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
