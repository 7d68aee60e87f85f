import { readFile } from 'node:fs/promises';
import { extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { apiError } from '../apiError.ts';

/** The Vite build of dashboard/ (`npm run build:dashboard`, run by prestart and pretest). */
export const DASHBOARD_DIST = fileURLToPath(new URL('../../../dashboard/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

const assetParams = z.object({ '*': z.string().max(256).regex(/^[A-Za-z0-9._\/-]*$/) });

/** `GET /` → `/dashboard/`; `GET /dashboard/` and its assets from dashboard/dist (no CDN, works offline). */
export function registerDashboardRoutes(app: FastifyInstance): void {
  app.get('/', (_request, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard', (_request, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard/*', async (request, reply) => {
    const params = assetParams.safeParse(request.params);
    if (!params.success) return reply.status(404).send(apiError('NOT_FOUND', 'no such dashboard file'));
    const rel = normalize(params.data['*'] || 'index.html');
    if (rel.startsWith('..')) return reply.status(404).send(apiError('NOT_FOUND', 'no such dashboard file'));
    try {
      const body = await readFile(DASHBOARD_DIST + rel);
      const immutable = rel.startsWith('assets/');
      return reply
        .type(TYPES[extname(rel)] ?? 'application/octet-stream')
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .send(body);
    } catch {
      if (rel === 'index.html') {
        return reply.status(503).send(apiError('DASHBOARD_NOT_BUILT', 'the dashboard is not built: run `npm run build:dashboard` (npm start and npm test do it)'));
      }
      return reply.status(404).send(apiError('NOT_FOUND', `no dashboard file ${rel}`));
    }
  });
}
