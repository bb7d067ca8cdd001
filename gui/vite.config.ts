import { defineConfig } from 'vite';

// The GUI is built into dist/gui, which the server serves. Everything is bundled: no CDN.
export default defineConfig({
  root: 'gui',
  base: '/',
  build: { outDir: '../dist/gui', emptyOutDir: true, sourcemap: true, assetsInlineLimit: 0 },
});
