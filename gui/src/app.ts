/**
 * The page frame and its life: the header (who is logged in, navigation, live-connection state,
 * log out), the message area, and the current view, chosen by the hash route. At start
 * `GET /api/auth/session` decides between the login page and the app; a login that ends on the way
 * (any 401) brings the login page back and then the page the user was on.
 */
import { api, ApiError, onUnauthenticated } from './api.js';
import { h, replaceChildren, setText } from './dom.js';
import { EventStream } from './events.js';
import { tick } from './format.js';
import { clearNotices, describeError, mountNotices, notifyError } from './notify.js';
import { currentRoute, navigate, onRouteChange, type Route } from './router.js';
import type { User } from './types.js';
import { adminView } from './views/admin.js';
import { jobView } from './views/job.js';
import { jobsView } from './views/jobs.js';
import { loginView } from './views/login.js';
import { schedulesView } from './views/schedules.js';
import { accountView } from './views/account.js';
import { pipelineView, pipelinesView } from './views/pipelines.js';
import type { View } from './views/view.js';

export class App {
  private user: User | undefined;
  private events: EventStream | undefined;
  private view: View | undefined;
  /** Where to go after logging in. */
  private returnTo = '#/jobs';
  private loginMessage: string | undefined;
  private readonly main: HTMLElement;
  private readonly nav = h('nav', { class: 'nav', 'aria-label': 'Main' });
  private readonly who = h('div', { class: 'who' });
  private readonly live = h('span', { class: 'live', role: 'status', 'data-testid': 'live' });
  private firstRender = true;

  constructor(private readonly root: HTMLElement) {
    const notices = h('div', { class: 'notice-area' });
    this.main = h('main', { id: 'main', tabindex: '-1' });
    replaceChildren(
      root,
      h('a', { class: 'skip-link', href: '#main', onclick: (e: Event) => { e.preventDefault(); this.main.focus(); } }, 'Skip to the content'),
      h('header', { class: 'top' }, h('a', { class: 'brand', href: '#/jobs' }, 'jobvisor'), this.nav, this.live, this.who),
      notices,
      this.main,
    );
    mountNotices(notices);
  }

  start(): void {
    onUnauthenticated(() => this.loginEnded());
    onRouteChange((route) => this.render(route));
    setInterval(() => tick(), 1000);
    void this.boot();
  }

  private async boot(): Promise<void> {
    replaceChildren(this.main, h('p', { class: 'muted boot' }, 'Loading…'));
    try {
      const user = await api.session();
      if (user) this.loggedIn(user, false);
      else this.showLogin();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        this.showLogin();
        return;
      }
      replaceChildren(
        this.main,
        h(
          'section',
          { class: 'card' },
          h('h1', null, 'jobvisor cannot be reached'),
          h('p', { class: 'is-error' }, describeError(err)),
          h('button', { type: 'button', class: 'primary', onclick: () => void this.boot() }, 'Try again'),
        ),
      );
    }
  }

  private loggedIn(user: User, fresh: boolean): void {
    this.user = user;
    this.loginMessage = undefined;
    this.renderHeader();
    this.events?.stop();
    this.events = new EventStream(() => this.loginEnded());
    this.events.on('state', (connected) => this.renderLive(connected));
    this.events.start();
    this.renderLive(false);
    const route = currentRoute();
    if (fresh || route.name === 'login') {
      const target = this.returnTo;
      this.returnTo = '#/jobs';
      if (location.hash !== target) {
        location.hash = target; // renders on hashchange
        return;
      }
    }
    this.render(currentRoute());
  }

  private loginEnded(): void {
    if (!this.user) return;
    this.user = undefined;
    this.events?.stop();
    this.events = undefined;
    this.loginMessage = 'Your login has ended. Log in again to go on.';
    const route = currentRoute();
    if (route.name !== 'login') this.returnTo = location.hash || '#/jobs';
    this.showLogin();
  }

  private showLogin(): void {
    this.renderHeader();
    const route = currentRoute();
    if (route.name !== 'login') {
      this.returnTo = location.hash && location.hash !== '#' ? location.hash : '#/jobs';
      history.replaceState(history.state, '', '#/login');
    }
    this.mount(loginView((user) => this.loggedIn(user, true), this.loginMessage));
  }

  private async logout(): Promise<void> {
    try {
      await api.logout();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notifyError(err, 'Logging out');
    }
    this.user = undefined;
    this.events?.stop();
    this.events = undefined;
    this.loginMessage = 'You have logged out.';
    this.returnTo = '#/jobs';
    clearNotices();
    history.replaceState(history.state, '', '#/login');
    this.showLogin();
  }

  private render(route: Route): void {
    if (!this.user || !this.events) {
      if (route.name !== 'login') this.showLogin();
      return;
    }
    const ctx = { user: this.user, events: this.events };
    let view: View;
    switch (route.name) {
      case 'login':
        navigate('#/jobs');
        return;
      case 'jobs':
        view = jobsView(ctx);
        break;
      case 'job':
        view = jobView(ctx, route.jobId);
        break;
      case 'admin':
        view = adminView(ctx, route.query);
        break;
      case 'schedules':
        view = schedulesView(ctx);
        break;
      case 'account':
        view = accountView(ctx);
        break;
      case 'pipelines':
        view = pipelinesView(ctx);
        break;
      case 'pipeline':
        view = pipelineView(ctx, route.pipelineId);
        break;
      default:
        view = {
          el: h('section', { class: 'card' }, h('h1', null, 'No such page'), h('p', null, 'This address is not a page of jobvisor. '), h('a', { href: '#/jobs' }, '← Your jobs')),
          title: 'No such page',
          destroy: () => undefined,
        };
    }
    this.mount(view);
    this.renderNav(route);
  }

  private mount(view: View): void {
    this.view?.destroy();
    this.view = view;
    replaceChildren(this.main, view.el);
    document.title = `${view.title} · jobvisor`;
    if (!this.firstRender) this.main.focus({ preventScroll: true });
    this.firstRender = false;
    window.scrollTo(0, 0);
  }

  private renderHeader(): void {
    const user = this.user;
    if (!user) {
      replaceChildren(this.nav);
      replaceChildren(this.who);
      this.live.hidden = true;
      return;
    }
    replaceChildren(
      this.who,
      h('span', { class: 'who-name', 'data-testid': 'who' }, 'Logged in as ', h('strong', null, user.username), user.role === 'admin' ? h('span', { class: 'role' }, 'admin') : null),
      h('button', { type: 'button', class: 'small', onclick: () => void this.logout() }, 'Log out'),
    );
    this.renderNav(currentRoute());
  }

  private renderNav(route: Route): void {
    const user = this.user;
    if (!user) return;
    const link = (href: string, text: string, active: boolean) => h('a', { href, 'aria-current': active ? 'page' : null }, text);
    replaceChildren(
      this.nav,
      link('#/jobs', 'Jobs', route.name === 'jobs' || route.name === 'job'),
      link('#/schedules', 'Schedules', route.name === 'schedules'),
      link('#/pipelines', 'Pipelines', route.name === 'pipelines' || route.name === 'pipeline'),
      user.role === 'admin' ? link('#/admin', 'Admin', route.name === 'admin') : null,
      link('#/account', 'Account', route.name === 'account'),
    );
  }

  private renderLive(connected: boolean): void {
    this.live.hidden = !this.user;
    this.live.classList.toggle('on', connected);
    setText(this.live, connected ? 'live' : 'connecting…');
    this.live.title = connected ? 'Updates arrive as they happen' : 'The live connection is down; retrying';
  }
}
