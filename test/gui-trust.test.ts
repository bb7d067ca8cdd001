/**
 * A GUI you can trust (issue 12), in a real Chromium against a real jobvisor: a fresh visit logs
 * no console error; plot axes show evenly spaced true values and legends no dashes; frames are
 * numbered one way in the log, the plot and the analysis answer; a short run says how long it
 * ran; Run says its outcome next to the button; the admin jobs table fits 1280 px with its
 * actions; template descriptions render a safe subset of Markdown. Screenshots go to
 * test-artifacts/gui/trust-*.png.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { changes, logIn, screenshot, type TestPage } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, ROOT, startJobvisor, type Client, type Jobvisor } from './helpers/jobvisor.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'gui-trust-templates');

/** Every console message of level error (none filtered out), and uncaught errors. */
function consoleErrors(p: Page): string[] {
  const out: string[] = [];
  p.on('console', (m) => m.type() === 'error' && out.push(`${m.text()} (${m.location().url})`));
  p.on('pageerror', (e) => out.push(`pageerror: ${e.message}`));
  return out;
}

/** Tick labels as numbers, and whether they are evenly spaced (the labels' steps all the same). */
function evenlySpaced(labels: string): { values: number[]; steps: number[]; even: boolean } {
  const values = labels.split(' ').map(Number);
  const steps = values.slice(1).map((v, i) => v - (values[i] as number));
  const first = steps[0] ?? 0;
  return { values, steps, even: values.every(Number.isFinite) && steps.length > 0 && steps.every((s) => Math.abs(s - first) <= Math.abs(first) * 1e-9) };
}

describe('web GUI you can trust (Chromium)', () => {
  let jv: Jobvisor;
  let admin: Client;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor({ extraTemplates: FIXTURES })));
    admin = await jv.login();
  }, 120_000);

  async function open(viewport = { width: 1280, height: 800 }): Promise<TestPage> {
    return gui.page(viewport);
  }

  it('logs no console error on a fresh visit to the login page, nor on logging in', async () => {
    const { page: p } = await open();
    const errors = consoleErrors(p);
    await p.goto('/');
    await p.getByLabel('User name').waitFor();
    await p.waitForLoadState('networkidle');
    await screenshot(p, 'trust-login');
    expect(errors).toEqual([]);
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.getByTestId('run-submit').waitFor();
    expect(errors).toEqual([]);
    // The session check answers 200 either way.
    const r = await fetch(`${jv.serverUrl}/api/auth/session`);
    expect([r.status, await r.json()]).toEqual([200, { user: null }]);
    expect((await admin.get('/api/auth/session')).body).toEqual({ user: { username: 'admin', role: 'admin' } });
  });

  it('numbers frames one way in the log, the plot and the API; axes show true values; legends no dashes', async () => {
    const job = await admin.run({ template: 'heat1d', jobKey: 'trust-heat', parameters: { nx: 101, frames: 12, endTime: 2, paceSeconds: 0 } });
    await admin.waitJob(job.jobId, (j) => j.status === 'completed', 60_000);
    const log = (await admin.get(`/api/jobs/${job.jobId}/log?offset=0&limit=100000`)).body.text as string;
    expect(log).toMatch(/^frame 1 of 12: t=0\.000 s/m);
    expect(log).toMatch(/^frame 12 of 12: t=2\.000 s/m);
    expect(log).toContain('PROGRESS 1.0000 frame 12 of 12 written');
    expect(log).not.toMatch(/frame \d+\/\d+/);
    const latest = (await admin.post(`/api/jobs/${job.jobId}/analysis`, { frame: 'temperature', index: 1000 })).body.data;
    expect(latest).toMatchObject({ frames: 12, total: 12, index: 11, frameNumber: 12, t: 2 });
    const fifth = (await admin.post(`/api/jobs/${job.jobId}/analysis`, { frame: 'temperature', index: 4 })).body.data;
    expect(fifth).toMatchObject({ index: 4, frameNumber: 5, total: 12 });

    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      const { page: p, errors } = await open(viewport);
      await logIn(p, 'admin', ADMIN_PASSWORD);
      await p.goto(`/#/jobs/${job.jobId}`);
      const temperature = p.locator('[data-frame="temperature"] figure.plot');
      const energy = p.locator('[data-frame="energy"] figure.plot');
      await expect.poll(() => temperature.getAttribute('data-caption'), { timeout: 20_000 }).toBe('frame 12 of 12 · t = 2 s · 101 points');
      await expect.poll(() => energy.getAttribute('data-caption')).toBe('12 frames · 12 points');
      expect(await p.locator('[data-frame="temperature"] .slider-value').textContent()).toBe('frame 12 of 12');
      // The slider picks frame 5: the caption says so, as the API does for index 4.
      await p.locator('[data-frame="temperature"] input[type="range"]').fill('4');
      await expect.poll(() => temperature.getAttribute('data-caption')).toMatch(/^frame 5 of 12 · t = 0\.7273 s/);
      expect(await p.locator('[data-frame="temperature"] .slider-value').textContent()).toBe('frame 5 of 12');
      expect((await changes(p)).filter((c) => c.attr === 'data-frame-index').at(-1)?.value).toBe('4');

      for (const plot of [temperature, energy]) {
        for (const axis of ['data-x-ticks', 'data-y-ticks']) {
          const labels = (await plot.getAttribute(axis)) ?? '';
          const { even, steps } = evenlySpaced(labels);
          expect(even, `${viewport.width} px, ${axis}: "${labels}" (steps ${steps.join(', ')})`).toBe(true);
          expect(new Set(labels.split(' ')).size).toBe(labels.split(' ').length);
        }
      }
      // Legends: no dashes; values show while the cursor is on the plot.
      const legend = energy.locator('.u-legend');
      expect(await legend.innerText()).not.toMatch(/—|--/);
      expect((await legend.innerText()).trim()).toBe('energy (°C·m)');
      const over = energy.locator('.u-over');
      const box = await over.boundingBox();
      if (!box) throw new Error('no plot area');
      await p.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
      await expect.poll(() => legend.innerText()).toMatch(/^t \(s\)\s*[\d.]+\s*energy \(°C·m\)\s*[\d.]+$/);
      expect(await legend.innerText()).not.toMatch(/—|--/);
      await p.mouse.move(0, 0);
      await expect.poll(async () => (await legend.innerText()).trim()).toBe('energy (°C·m)');
      await screenshot(p, `trust-plots-${viewport.width}`);
      expect(errors).toEqual([]);
    }
  });

  it('shows Run’s outcome next to the button, says how long a short run ran', async () => {
    const { page: p, errors } = await open();
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.getByLabel('Template', { exact: true }).selectOption('sleep');
    await p.getByLabel('Duration').fill('1');
    await p.getByLabel('Log lines').fill('2');
    await p.getByLabel('Job key (optional)').fill('trust-one-second');
    const run = p.getByTestId('run-submit');
    await run.click(); // scrolls the button into view first, as a user does
    const status = p.getByTestId('run-status');
    await status.filter({ hasText: 'Started trust-one-second (run 1).' }).waitFor();
    const seen = (await changes(p)).filter((c) => c.attr === 'data-status' && c.cls.includes('action-status')).map((c) => c.value);
    expect(seen).toContain('busy');
    expect(seen.at(-1)).toBe('ok');
    // Where the user looks: in the window, on the button's row.
    const [b, s] = [await run.boundingBox(), await status.boundingBox()];
    if (!b || !s) throw new Error('no boxes');
    expect(s.y).toBeGreaterThanOrEqual(0);
    expect(s.y + s.height).toBeLessThanOrEqual(800);
    expect(Math.abs(s.y + s.height / 2 - (b.y + b.height / 2))).toBeLessThan(b.height);
    await screenshot(p, 'trust-run-started');
    await p.getByTestId('run-status-link').click();
    await p.locator('.job-layout[data-status="completed"]').waitFor({ timeout: 30_000 });
    const ranFor = await p.evaluate(() => {
      const dt = [...document.querySelectorAll('.summary dt')].find((e) => e.textContent === 'Ran for');
      return dt?.nextElementSibling?.textContent ?? null;
    });
    expect(ranFor).toMatch(/^(1|1\.\d|2|2\.\d) s$/);
    expect(errors).toEqual([]);
  });

  it('fits the admin jobs table, actions included, in a 1280 × 800 window', async () => {
    const long = await admin.run({ template: 'sleep', jobKey: 'trust-a-rather-long-job-key-for-the-admin-table-0123456789', parameters: { seconds: 120, lines: 2 } });
    await admin.run({ template: 'sleep', jobKey: 'trust-waiting', parameters: { seconds: 120, lines: 2 } }); // waits for the CPU slot
    const { page: p, errors } = await open();
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.goto('/#/admin');
    const cancel = p.locator(`tr[data-job-id="${long.jobId}"] .col-actions button`);
    await cancel.waitFor();
    const fit = await p.evaluate(() => {
      const wrap = document.querySelector('.job-table .table-wrap') as HTMLElement;
      const button = document.querySelector('tr.job-row .col-actions button:not([hidden])') as HTMLElement;
      const w = wrap.getBoundingClientRect();
      const c = button.getBoundingClientRect();
      return { scroll: wrap.scrollWidth - wrap.clientWidth, right: c.right, wrapRight: w.right, page: document.documentElement.scrollWidth };
    });
    await screenshot(p, 'trust-admin-1280');
    expect(fit.scroll).toBeLessThanOrEqual(1);
    expect(fit.right).toBeLessThanOrEqual(fit.wrapRight);
    expect(fit.right).toBeLessThanOrEqual(1280);
    expect(fit.page).toBeLessThanOrEqual(1280);
    // On a phone the same table is a list of cards: nothing scrolls sideways, Cancel is in reach.
    const phone = await open({ width: 390, height: 844 });
    await logIn(phone.page, 'admin', ADMIN_PASSWORD);
    await phone.page.goto('/#/admin');
    const phoneCancel = phone.page.locator(`tr[data-job-id="${long.jobId}"] .col-actions button`);
    await phoneCancel.waitFor();
    const phoneFit = await phone.page.evaluate(() => {
      const wrap = document.querySelector('.job-table .table-wrap') as HTMLElement;
      return { scroll: wrap.scrollWidth - wrap.clientWidth, page: document.documentElement.scrollWidth };
    });
    expect(phoneFit.scroll).toBeLessThanOrEqual(1);
    expect(phoneFit.page).toBeLessThanOrEqual(390);
    expect(((await phoneCancel.boundingBox())?.x ?? 999) + ((await phoneCancel.boundingBox())?.width ?? 0)).toBeLessThanOrEqual(390);
    await screenshot(phone.page, 'trust-admin-390');
    // Nor do the schedules and pipelines pages (their tables, even empty, once did).
    for (const page of ['schedules', 'pipelines']) {
      await phone.page.goto(`/#/${page}`);
      await phone.page.locator(`.${page}-page`).waitFor();
      await phone.page.getByRole('status').filter({ hasText: /no (schedules|pipelines) yet/i }).first().waitFor();
      expect(await phone.page.evaluate(() => document.documentElement.scrollWidth), page).toBeLessThanOrEqual(390);
    }
    expect(phone.errors).toEqual([]);
    await cancel.click();
    await p.locator(`tr[data-job-id="${long.jobId}"][data-status="canceled"]`).waitFor({ timeout: 30_000 });
    await admin.post(`/api/jobs/${(await admin.get('/api/jobs')).body.jobs.find((j: any) => j.jobKey === 'trust-waiting').jobId}/cancel`, {});
    expect(errors).toEqual([]);
  });

  it('renders a template description as safe Markdown: bold, lists and code; no script, image or javascript: link', async () => {
    const { page: p, errors } = await open();
    await logIn(p, 'admin', ADMIN_PASSWORD);
    await p.getByLabel('Template', { exact: true }).selectOption('markdown');
    const d = p.locator('.template-description .markdown');
    await d.waitFor();
    expect(await d.locator('strong').first().textContent()).toBe('Bold claim');
    expect(await d.locator('em').first().textContent()).toBe('emphasis');
    expect(await d.locator('code').first().textContent()).toBe('inline code');
    expect(await d.locator('ul > li').allTextContents()).toEqual(['first item', 'second item']);
    expect(await d.locator('script, img, iframe, [onerror], [style]').count()).toBe(0);
    const text = (await d.textContent()) ?? '';
    expect(text).toContain('<script>'); // shown as text
    expect(text).toContain('<img src="x" onerror=');
    const links = await d.locator('a').evaluateAll((as) => as.map((a) => ({ text: a.textContent, href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel') })));
    expect(links).toEqual([
      { text: 'the docs', href: 'https://example.org/docs', target: '_blank', rel: 'noopener noreferrer' },
      { text: 'mail us', href: 'mailto:help@example.org', target: '_blank', rel: 'noopener noreferrer' },
    ]);
    expect(text).toContain('a javascript link');
    await d.getByText('a javascript link').click();
    expect(await p.evaluate(() => (window as unknown as { __xss?: string }).__xss)).toBeUndefined();
    await screenshot(p, 'trust-markdown');
    expect(errors).toEqual([]);
  });
});
