import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDockerDriver } from '../../src/drivers/docker/driver.js';
import { DockerSettings } from '../../src/drivers/docker/settings.js';
import { createLogger } from '../../src/shared/logger.js';
import { ROOT } from '../helpers/jobvisor.js';
import { driverContract } from './contract.js';

driverContract('docker', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jobvisor-docker-driver-'));
  const driver = createDockerDriver({
    settings: DockerSettings.parse({ name: 'docker', driver: 'docker', stopTimeoutSeconds: 2 }),
    sizes: { sequential: { slots: 1, maxTimeSeconds: 60 }, parallel: { slots: 2, maxTimeSeconds: 60 } },
    runsDir: path.join(dir, 'runs'),
    templatesDir: path.join(ROOT, 'templates'),
    dataDir: dir,
    logLevel: 'info',
    log: createLogger('docker-contract', 'silent'),
  });
  return {
    driver,
    templatesDir: driver.templatesDir(),
    async cleanup() {
      await driver.close();
      await driver.removeLeftovers?.(new Set());
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
