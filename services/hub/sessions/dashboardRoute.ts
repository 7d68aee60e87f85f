import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const PAGE = new URL('../public/telemetry.html', import.meta.url);

/** `GET /dashboard/telemetry?session=ID`: the self-contained telemetry dashboard page. */
export function registerTelemetryDashboard(app: FastifyInstance): void {
  const html = readFileSync(PAGE, 'utf8');
  app.get('/dashboard/telemetry', (_request, reply) => {
    void reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  });
}
