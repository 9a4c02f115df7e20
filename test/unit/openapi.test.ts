/**
 * docs/openapi.json is generated from the route schemas by `npm run openapi`;
 * these tests fail when the file, the schemas and the registered routes
 * disagree, so the document cannot drift from the code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { OPENAPI_PATH, openApiConfig, renderOpenApi } from '../../scripts/write-openapi.js';
import { buildServer, type Tribune } from '../../src/server.js';
import { ERRORS } from '../../src/wire/errors.js';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type HttpMethod = Uppercase<(typeof HTTP_METHODS)[number]>;

interface OpenApiDocument {
  paths: Record<string, Partial<Record<(typeof HTTP_METHODS)[number], { responses?: Record<string, unknown> }>>>;
}

interface Route {
  method: HttpMethod;
  /** fastify syntax, `/api/spaces/:id`. */
  url: string;
}

let tribune: Tribune;

before(async () => {
  tribune = await buildServer(openApiConfig());
  await tribune.app.ready();
});
after(async () => {
  await tribune.close();
});

/**
 * Every route of the app, read from `printRoutes({ commonPrefix: false })`:
 * a tree whose nodes are path segments, indented four columns per level,
 * with the methods of a route in parentheses. A node's URL is its segment
 * appended to its parent's.
 */
function registeredRoutes(): Route[] {
  const tree = tribune.app.printRoutes({ commonPrefix: false });
  const routes: Route[] = [];
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const node = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!node) continue;
    const depth = (node[1] ?? '').length / 4;
    const url = (prefixes[depth - 1] ?? '') + (node[2] ?? '');
    prefixes[depth] = url;
    prefixes.length = depth + 1;
    for (const method of (node[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      routes.push({ method: method as HttpMethod, url });
    }
  }
  return routes;
}

/** `/api/spaces/:id` -> `/api/spaces/{id}`. */
function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function generated(): OpenApiDocument {
  return JSON.parse(renderOpenApi(tribune.app)) as OpenApiDocument;
}

test('docs/openapi.json is the document the route schemas generate', () => {
  const onDisk = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as unknown;
  assert.deepEqual(generated(), onDisk, 'docs/openapi.json is out of date: run `npm run openapi` and commit the result');
});

test('the route list read from the app includes the known Spaces routes', () => {
  // Guards the printRoutes parser: if it silently found nothing, the next
  // test would pass for the wrong reason.
  const routes = registeredRoutes().map((route) => `${route.method} ${route.url}`);
  for (const expected of ['POST /api/spaces', 'GET /api/spaces/:id', 'POST /api/spaces/:id/end', 'GET /healthz']) {
    assert.ok(routes.includes(expected), `${expected} in ${routes.join(', ')}`);
  }
});

test('every route under /api registered in the app appears in the OpenAPI document', () => {
  const document = generated();
  const missing = registeredRoutes()
    // fastify adds a HEAD route for each GET; the document leaves those out.
    .filter((route) => route.url.startsWith('/api/') && route.method !== 'HEAD')
    .filter((route) => document.paths[toOpenApiPath(route.url)]?.[route.method.toLowerCase() as Lowercase<HttpMethod>] === undefined)
    .map((route) => `${route.method} ${route.url}`);
  assert.deepEqual(missing, [], `routes missing from the OpenAPI document (hidden with schema.hide?): ${missing.join(', ')}`);
});

test('every operation in the OpenAPI document is a route the app serves', () => {
  for (const [path, operations] of Object.entries(generated().paths)) {
    const url = path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
    for (const method of HTTP_METHODS) {
      if (operations[method] === undefined) continue;
      assert.ok(tribune.app.hasRoute({ method: method.toUpperCase() as HttpMethod, url }), `${method.toUpperCase()} ${path}`);
    }
  }
});

test('every error status the OpenAPI document lists belongs to some code of the error catalogue', () => {
  const statuses = new Set<string>(Object.values(ERRORS).map((entry) => String(entry.status)));
  for (const [path, operations] of Object.entries(generated().paths)) {
    for (const method of HTTP_METHODS) {
      for (const status of Object.keys(operations[method]?.responses ?? {})) {
        if (Number(status) >= 400) assert.ok(statuses.has(status), `${method.toUpperCase()} ${path} documents ${status}`);
      }
    }
  }
});
