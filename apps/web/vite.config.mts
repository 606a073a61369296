// Builds the dashboard (apps/web) into dist/web, which the gateway serves on the same origin (DASHBOARD.md §3).
// JSX is compiled by Vite's own transformer (automatic runtime, from tsconfig's "jsx": "react-jsx"), so no
// framework plugin is needed for a production build.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    rolldownOptions: {
      // React Query marks its modules "use client" for server components; meaningless in this client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
