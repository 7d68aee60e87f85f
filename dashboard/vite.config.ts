import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The dashboard: plain TypeScript, built to dashboard/dist, served by the hub at /dashboard/. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // the diagram chunk is ELK's layout engine (~1.4 MB), loaded on demand
    chunkSizeWarningLimit: 2_000,
    rollupOptions: {
      // zod's sources carry comments next to @__PURE__ annotations that Rollup only warns about
      onwarn(warning, warn) {
        if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
      },
    },
  },
});
