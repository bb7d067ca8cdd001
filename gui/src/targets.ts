/**
 * The site's targets (`GET /api/targets`): where runs go, each with its title, driver, login
 * node, option fields and the caller's login state. The page keeps the last list it read, so
 * tables can show a target's title where a job names only the target; a login updates it.
 * Everything about a target comes from the API: the GUI knows no driver or scheduler itself.
 */
import { api } from './api.js';
import { formatTime } from './format.js';
import type { TargetStatus, TargetView } from './types.js';

let known: TargetView[] | null = null;
let loading: Promise<TargetView[] | null> | undefined;

/** The targets last read; null before the first answer (or when it failed). */
export function knownTargets(): TargetView[] | null {
  return known;
}

/** Reads the targets again (one request at a time); null when they could not be read. */
export function loadTargets(): Promise<TargetView[] | null> {
  loading ??= api
    .targets()
    .then((ts) => (known = ts))
    .catch(() => known)
    .finally(() => (loading = undefined));
  return loading;
}

export function targetOf(name: string): TargetView | undefined {
  return known?.find((t) => t.name === name);
}

/** How a target reads on the page: its title, or its name while the targets are not known. */
export function targetTitle(name: string): string {
  return targetOf(name)?.title ?? name;
}

/** A target with the login state a status answer gives; the remembered list is updated too. */
export function withLogin(t: TargetView, s: TargetStatus): TargetView {
  const next: TargetView = { ...t, host: s.host ?? t.host, login: { loggedIn: s.loggedIn, state: s.state, since: s.since, expiresAt: s.expiresAt } };
  if (known) known = known.map((x) => (x.name === t.name ? next : x));
  return next;
}

/** "Logged in to Hopper (login.hopper.org) until 14:05:00." / "Not logged in to Hopper (login.hopper.org)." */
export function loginStateText(t: TargetView): string {
  const where = `${t.title}${t.host ? ` (${t.host})` : ''}`;
  if (!t.needsLogin) return `${t.title} needs no login.`;
  if (!t.login?.loggedIn) return `Not logged in to ${where}.`;
  return `Logged in to ${where}${t.login.expiresAt ? ` until ${formatTime(t.login.expiresAt)}` : ''}.`;
}
