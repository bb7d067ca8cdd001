/**
 * The set-up every GUI test file shares: one jobvisor and one Chromium, started together (if
 * either fails, the other is still stopped), pages in fresh browser profiles that close by
 * themselves, and everything stopped after the file.
 *
 *   const gui = guiFile();
 *   beforeAll(async () => {
 *     ({ jv } = await gui.start(() => startJobvisor({ env: {...} })));
 *     admin = await jv.login();
 *   }, 90_000);
 *   it('...', async () => { const { page } = await gui.page(); ... });
 *
 * A page opened in a test closes after that test; one opened outside a test (in beforeAll)
 * closes after the file. The file's own afterAll hooks run before these (vitest runs after-hooks
 * in reverse order of registration), so they can still use the browser and jobvisor.
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { launchBrowser, newPage, type TestPage } from './browser.js';
import type { Jobvisor } from './jobvisor.js';

export interface GuiFile {
  /** Starts jobvisor (with `start`) and Chromium at once; throws the first failure. */
  start(start: () => Promise<Jobvisor>): Promise<{ jv: Jobvisor; browser: Browser }>;
  /** A page in a fresh browser profile at jobvisor's address. */
  page(viewport?: { width: number; height: number }): Promise<TestPage>;
}

export function guiFile(): GuiFile {
  let jv: Jobvisor | undefined;
  let browser: Browser | undefined;
  let inTest = false;
  const testPages: TestPage[] = [];
  const filePages: TestPage[] = [];
  const close = async (pages: TestPage[]): Promise<void> => {
    for (const t of pages.splice(0)) await t.context.close().catch(() => undefined);
  };

  beforeEach(() => {
    inTest = true;
  });
  afterEach(async () => {
    inTest = false;
    await close(testPages);
  });
  afterAll(async () => {
    await close(filePages);
    await browser?.close();
    await jv?.stop();
  });

  return {
    async start(start) {
      const [started, launched] = await Promise.allSettled([start(), launchBrowser()]);
      if (started.status === 'fulfilled') jv = started.value;
      if (launched.status === 'fulfilled') browser = launched.value;
      if (started.status === 'rejected') throw started.reason;
      if (launched.status === 'rejected') throw launched.reason;
      return { jv: jv!, browser: browser! };
    },
    async page(viewport) {
      if (!jv || !browser) throw new Error('guiFile: page() before start() finished');
      const t = await newPage(browser, jv.serverUrl, viewport);
      (inTest ? testPages : filePages).push(t);
      return t;
    },
  };
}
