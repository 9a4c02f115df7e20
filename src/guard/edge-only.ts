/**
 * Scaled mode: the origin answers listener routes (playlists, parts,
 * segments, the state feed, replay and clip media) only to its edges, which prove themselves with
 * a shared secret header. A listener who found the origin's address cannot
 * skip the cache; everything else (the API, the stage) is unaffected.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TribuneError } from '../wire/errors.js';

export const EDGE_HEADER = 'x-tribune-edge';

const LISTENER_ROUTE = (url: string): boolean =>
  url.startsWith('/hls/') || url === '/api/spaces/:id/feed' || url === '/replay/:id/:file' || url === '/clips/:clipId/:file';

export function edgeOnly(app: FastifyInstance, secret: string): void {
  const expected = Buffer.from(secret);
  const fromEdge = (request: FastifyRequest): boolean => {
    const header = request.headers[EDGE_HEADER];
    if (typeof header !== 'string') return false;
    const given = Buffer.from(header);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url;
    if (route !== undefined && LISTENER_ROUTE(route) && !fromEdge(request)) throw new TribuneError('EDGE_ONLY');
  });
}
