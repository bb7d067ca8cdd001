/**
 * The GUI's account pages in a real Chromium against a real jobvisor: a user changes their
 * password and makes an API token (shown once, then listed, then revoked) on the Account page;
 * an admin disables, resets, and deletes a user on the admin page and reads the audit log.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { logIn, screenshot, type TestPage } from './helpers/browser.js';
import { guiFile } from './helpers/guiFile.js';
import { ADMIN_PASSWORD, Client, startJobvisor, type Jobvisor } from './helpers/jobvisor.js';

describe('web GUI: account page and user administration (Chromium)', () => {
  let jv: Jobvisor;
  let admin: Client;
  const gui = guiFile();

  beforeAll(async () => {
    ({ jv } = await gui.start(() => startJobvisor()));
    admin = await jv.login();
  }, 90_000);

  async function open(): Promise<TestPage> {
    return gui.page();
  }

  it('changes the password and makes, shows once, lists and revokes an API token', async () => {
    await jv.addUser(admin, 'alice', 'alice-password-1');
    const { page: p, errors } = await open();
    await logIn(p, 'alice', 'alice-password-1');
    await p.getByRole('link', { name: 'Account' }).click();
    await p.getByRole('heading', { name: 'Your account' }).waitFor();

    const form = p.getByRole('form', { name: 'Change your password' });
    await form.getByLabel('Current password').fill('not-it');
    await form.getByLabel('New password', { exact: true }).fill('alice-password-2');
    await form.getByLabel('New password again').fill('alice-password-2');
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByRole('alert').filter({ hasText: 'The current password is wrong.' }).waitFor();
    await form.getByLabel('Current password').fill('alice-password-1');
    await form.getByRole('button', { name: 'Change password' }).click();
    await p.getByText('Password changed.').waitFor();
    expect((await new Client(jv.serverUrl).post('/api/auth/login', { username: 'alice', password: 'alice-password-2' })).status).toBe(200);

    const tokens = p.getByRole('form', { name: 'Create an API token' });
    await tokens.getByLabel('Name').fill('nightly script');
    await tokens.getByLabel('Scope').selectOption('read');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const shown = p.getByTestId('new-token');
    await shown.waitFor();
    const token = await shown.inputValue();
    expect(token).toMatch(/^jvt_/);
    const row = p.locator('.tokens-table tbody tr').filter({ hasText: 'nightly script' });
    await row.waitFor();
    expect(await row.textContent()).toContain(token.slice(0, 8));
    expect(await row.textContent()).not.toContain(token);
    await screenshot(p, 'accounts-token-created');
    // The token works for scripts, read-only.
    const script = new Client(jv.serverUrl, token);
    expect((await script.get('/api/jobs')).status).toBe(200);
    expect((await script.post('/api/jobs', { template: 'sleep' })).body.error.code).toBe('TOKEN_READ_ONLY');

    await p.getByRole('button', { name: 'Done, hide it' }).click();
    await row.getByRole('button', { name: 'Revoke' }).click();
    await p.getByText('You have no API tokens.').waitFor();
    expect((await script.get('/api/jobs')).status).toBe(401);
    expect(errors).toEqual([]);
  });

  it('lets an admin disable, reset and delete a user, and read the audit log', async () => {
    await jv.addUser(admin, 'bob', 'bob-password-1');
    const { page: a, errors } = await open();
    await logIn(a, 'admin', ADMIN_PASSWORD);
    await a.goto('/#/admin');
    const bob = a.locator('.users-table tr[data-user="bob"]');
    await bob.waitFor();

    await bob.getByRole('button', { name: 'Disable' }).click();
    await bob.getByText('disabled').first().waitFor();
    await a.locator('.users-table tr[data-user="bob"].is-disabled').waitFor();
    expect((await new Client(jv.serverUrl).post('/api/auth/login', { username: 'bob', password: 'bob-password-1' })).body.error.code).toBe('ACCOUNT_DISABLED');
    await a.locator('.users-table tr[data-user="bob"]').getByRole('button', { name: 'Enable' }).click();
    await a.locator('.users-table tr[data-user="bob"]:not(.is-disabled)').waitFor();

    await a.locator('.users-table tr[data-user="bob"]').getByRole('button', { name: 'Reset password' }).click();
    await a.getByRole('button', { name: 'Reset password', exact: true }).and(a.locator('button[type="submit"]')).click();
    const generated = a.getByTestId('generated-password');
    await generated.waitFor();
    const password = await generated.inputValue();
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect((await new Client(jv.serverUrl).post('/api/auth/login', { username: 'bob', password })).status).toBe(200);
    await screenshot(a, 'accounts-admin-reset');
    await a.getByRole('button', { name: 'Done' }).click();

    await a.locator('.users-table tr[data-user="bob"]').getByRole('button', { name: 'Delete' }).click();
    await a.getByText('Delete bob? Their jobs').waitFor();
    await a.getByRole('button', { name: 'Delete bob' }).click();
    await a.locator('.users-table tr[data-user="bob"]').waitFor({ state: 'detached' });

    const audit = a.locator('.audit-table');
    await a.getByRole('search', { name: 'Filter the audit log' }).getByLabel('User').fill('bob');
    await a.getByRole('search', { name: 'Filter the audit log' }).getByRole('button', { name: 'Show' }).click();
    await audit.locator('tbody tr').filter({ hasText: 'user.delete' }).waitFor();
    const actions = await audit.locator('tbody tr td:nth-child(3)').allTextContents();
    expect(actions.slice(0, 5)).toEqual(['user.delete', 'user.disable', 'password.reset', 'user.enable', 'user.disable']);
    await audit.scrollIntoViewIfNeeded();
    await screenshot(a, 'accounts-admin-audit');
    expect(errors).toEqual([]);
  });
});
