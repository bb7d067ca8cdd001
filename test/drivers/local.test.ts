import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalDriver } from '../../src/drivers/local/driver.js';
import { ROOT } from '../helpers/jobvisor.js';
import { driverContract } from './contract.js';

driverContract('local', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-local-driver-'));
  const templatesDir = path.join(ROOT, 'templates');
  const driver = createLocalDriver({
    name: 'local',
    title: 'This machine',
    sizes: { sequential: { slots: 1, maxTimeSeconds: 60 }, parallel: { slots: 2, maxTimeSeconds: 60 } },
    runsDir: path.join(dir, 'runs'),
    agentsDir: path.join(dir, 'agents'),
    templatesDir,
    logLevel: 'info',
  });
  return {
    driver,
    templatesDir: driver.templatesDir(),
    async cleanup() {
      await driver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
