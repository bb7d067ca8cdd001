/**
 * Hash routes: #/login, #/account, #/jobs, #/jobs/<jobId>, #/schedules, #/pipelines, #/pipelines/<pipelineId>, #/admin (with filters as a query, e.g.
 * #/admin?user=alice&status=running). A page reload keeps the route; each view fetches its state.
 */

export type Route =
  | { name: 'login' }
  | { name: 'jobs' }
  | { name: 'job'; jobId: string }
  | { name: 'admin'; query: URLSearchParams }
  | { name: 'schedules' }
  | { name: 'account' }
  | { name: 'pipelines' }
  | { name: 'pipeline'; pipelineId: string }
  | { name: 'notFound'; path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', queryPart = ''] = raw.split('?', 2);
  const parts = pathPart.split('/').filter((p) => p !== '');
  if (parts.length === 0) return { name: 'jobs' };
  const [first, second] = parts;
  if (first === 'login' && parts.length === 1) return { name: 'login' };
  if (first === 'jobs' && parts.length === 1) return { name: 'jobs' };
  if (first === 'jobs' && parts.length === 2 && second) {
    let jobId = second;
    try {
      jobId = decodeURIComponent(second);
    } catch {
      /* keep it as it is: the API will say it does not exist */
    }
    return { name: 'job', jobId };
  }
  if (first === 'schedules' && parts.length === 1) return { name: 'schedules' };
  if (first === 'account' && parts.length === 1) return { name: 'account' };
  if (first === 'pipelines' && parts.length === 1) return { name: 'pipelines' };
  if (first === 'pipelines' && parts.length === 2 && second && /^[0-9a-f]{12}$/.test(second)) return { name: 'pipeline', pipelineId: second };
  if (first === 'admin' && parts.length === 1) return { name: 'admin', query: new URLSearchParams(queryPart) };
  return { name: 'notFound', path: raw };
}

export function jobHref(jobId: string): string {
  return `#/jobs/${encodeURIComponent(jobId)}`;
}

export function navigate(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** Changes the address without a new render (e.g. filters kept in the query). */
export function replaceHash(hash: string): void {
  history.replaceState(history.state, '', hash);
}

export function onRouteChange(fn: (route: Route) => void): void {
  window.addEventListener('hashchange', () => fn(parseRoute(location.hash)));
}

export function currentRoute(): Route {
  return parseRoute(location.hash);
}
