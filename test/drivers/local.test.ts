import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalDriver } from '../../src/drivers/local.js';
import { ROOT } from '../helpers/jobvisor.js';
import { driverContract } from './contract.js';

driverContract('local', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-local-driver-'));
  const templatesDir = path.join(ROOT, 'templates');
  const driver = createLocalDriver({
    slots: { sequential: 1, parallel: 2 },
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
