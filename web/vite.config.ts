import { defineConfig } from 'vitest/config'
import preact from '@preact/preset-vite'

// The built client goes to dist/, which the Go binary embeds (build tag
// webui, see web/embed.go). Hashed files land in dist/assets/ and are served
// as immutable; index.html, the manifest and the service worker are not.
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      '/api': { target: process.env.UNHIDRA_DEV_SERVER ?? 'http://127.0.0.1:8080', ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
})
