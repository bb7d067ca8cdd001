/**
 * A real Chromium for the GUI tests (playwright-core, the system's /usr/bin/chromium, headless).
 * One browser per test file; a fresh context (a fresh profile: no cookies, no storage) per test.
 * Pages record what goes wrong in them (uncaught errors, failed requests other than expected
 * 4xx answers) and, through a MutationObserver installed before the page's own script, every
 * value the GUI's test hooks take (data-status, data-value, data-frame-index), so a test can
 * check a sequence of states however briefly each one showed.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './jobvisor.js';

export const ARTIFACTS_DIR = path.join(ROOT, 'test-artifacts', 'gui');

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** One change of a watched attribute in the page. */
export interface Change {
  /** The attribute: data-status, data-value or data-frame-index. */
  attr: string;
  value: string;
  tag: string;
  cls: string;
  /** The job the element belongs to (its closest data-job-id). */
  jobId: string | null;
  t: number;
}

/**
 * Runs in the page before its scripts: records every value the watched attributes take. Plain
 * JavaScript text, so that no transform of this file can change what runs in the browser.
 */
const RECORDER = `(() => {
  window.__changes = [];
  const watched = ['data-status', 'data-value', 'data-frame-index'];
  const record = (el, attr) => {
    const value = el.getAttribute(attr);
    if (value === null) return;
    const owner = el.closest('[data-job-id]');
    window.__changes.push({
      attr, value,
      tag: el.tagName.toLowerCase(),
      cls: typeof el.className === 'string' ? el.className : '',
      jobId: owner ? owner.getAttribute('data-job-id') : null,
      t: Date.now(),
    });
  };
  const selector = watched.map((a) => '[' + a + ']').join(',');
  const scan = (node) => {
    if (!(node instanceof Element)) return;
    for (const a of watched) if (node.hasAttribute(a)) record(node, a);
    for (const el of node.querySelectorAll(selector)) for (const a of watched) if (el.hasAttribute(a)) record(el, a);
  };
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes' && m.attributeName) record(m.target, m.attributeName);
      else for (const n of m.addedNodes) scan(n);
    }
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: watched });
})();`;

export interface TestPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors of the page (expected 401/404 answers aside). */
  errors: string[];
}

export async function newContext(browser: Browser, baseURL: string, viewport = { width: 1280, height: 900 }): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL, viewport, acceptDownloads: true });
  context.setDefaultTimeout(30_000);
  await context.addInitScript({ content: RECORDER });
  return context;
}

export function watchPage(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // The browser logs every 4xx answer; the GUI expects some (the start-up login check, a job that does not exist).
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    errors.push(`console: ${text}`);
  });
  return errors;
}

export async function newPage(browser: Browser, baseURL: string, viewport?: { width: number; height: number }): Promise<TestPage> {
  const context = await newContext(browser, baseURL, viewport);
  const page = await context.newPage();
  return { context, page, errors: watchPage(page) };
}

/** Every recorded change of the page so far. */
export async function changes(page: Page): Promise<Change[]> {
  return (await page.evaluate('window.__changes')) as Change[];
}

/** Saves a full-page screenshot to test-artifacts/gui/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Logs in through the login form; resolves once the header says who is logged in. */
export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('who').filter({ hasText: username }).waitFor();
}
