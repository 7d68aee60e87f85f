import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The dashboard: plain TypeScript, built to dashboard/dist, served by the hub at /dashboard/. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
