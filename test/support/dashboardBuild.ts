import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { DASHBOARD_DIST } from '../../services/hub/routes/dashboard.ts';

/** Builds dashboard/ with Vite when `npx vitest run` is used without `npm test`'s pretest build. */
export async function ensureDashboardBuilt(): Promise<void> {
  if (existsSync(`${DASHBOARD_DIST}index.html`)) return;
  await build({ configFile: fileURLToPath(new URL('../../dashboard/vite.config.ts', import.meta.url)), logLevel: 'warn' });
}
