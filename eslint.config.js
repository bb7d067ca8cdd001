// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { readdirSync } from 'node:fs';

/**
 * Who may import whom (DESIGN.md): agent never imports supervisor or server, nor a backend's
 * supervisor side (only scheduler modules, which import shared/ alone); server never imports
 * supervisor, drivers, agent or cmds; supervisor imports drivers and shared/ only; drivers
 * never import server, supervisor, agent or cmds; cmds
 * never import supervisor, server, drivers or agent; shared imports none of them; the client
 * commands (src/cli/) import shared/ only; one backend's
 * folder never imports another's (cluster/ and ssh/ are shared by the cluster backends).
 */
const SHARED_BACKEND_FOLDERS = ['cluster', 'ssh'];
const backendFolders = readdirSync('src/drivers', { withFileTypes: true })
  .filter((e) => e.isDirectory() && !SHARED_BACKEND_FOLDERS.includes(e.name))
  .map((e) => e.name);
const importZones = [
  { target: 'src/agent', from: ['src/supervisor', 'src/server'], message: 'the agent knows the protocol only' },
  { target: 'src/agent', from: ['src/drivers/**/*'], except: [`${import.meta.dirname}/src/drivers/*/scheduler.ts`], message: 'the agent may use a backend\'s scheduler module only' },
  { target: 'src/drivers/*/scheduler.ts', from: ['src/drivers', 'src/supervisor', 'src/server', 'src/agent', 'src/cmds'], message: 'a scheduler module is bundled into the agent: it imports shared/ only' },
  { target: 'src/server', from: ['src/supervisor', 'src/drivers', 'src/agent', 'src/cmds'], message: 'the server speaks HTTP to the supervisor' },
  { target: 'src/supervisor', from: ['src/server', 'src/agent', 'src/cmds'], message: 'the supervisor uses drivers and shared/ only' },
  { target: 'src/drivers', from: ['src/server', 'src/supervisor', 'src/agent', 'src/cmds'] },
  { target: 'src/cmds', from: ['src/supervisor', 'src/server', 'src/drivers', 'src/agent'] },
  { target: 'src/shared', from: ['src/supervisor', 'src/server', 'src/drivers', 'src/agent', 'src/cmds'] },
  { target: 'src/cli', from: ['src/supervisor', 'src/server', 'src/drivers', 'src/agent', 'src/cmds'], message: 'the CLI\'s client commands speak the public HTTP API only' },
  ...backendFolders.map((b) => ({
    target: `src/drivers/${b}`,
    from: backendFolders.filter((o) => o !== b).map((o) => `src/drivers/${o}`),
    message: 'one backend never imports another',
  })),
  ...SHARED_BACKEND_FOLDERS.map((f) => ({ target: `src/drivers/${f}`, from: backendFolders.map((o) => `src/drivers/${o}`), message: 'shared backend code does not import a backend' })),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'templates/**', 'test-artifacts/**', 'bench/results/**', 'test/fixtures/v0.1/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones: importZones }],
    },
  },
  {
    // Tests read JSON answers whose shape each assertion states.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
