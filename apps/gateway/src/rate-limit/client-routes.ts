// The routes a scanner agent calls without credentials. Several agents may sit behind one NAT address and each
// heartbeats every minute, so these are counted per client id instead of against the anonymous per-address
// budget (docs/rate-limits.md).
import { CLIENT_ID_PATTERN } from '@nso/config';

const AGENT_ROUTE = /^\/api\/clients\/([^/]+)(\/heartbeat|\/results)?$/;

/**
 * The client id of an agent's own route — `POST /api/clients/{id}/heartbeat`, `POST /api/clients/{id}/results`,
 * `PUT /api/clients/{id}` — or undefined for any other request (and for an id the API would refuse anyway).
 * `path` is the request path without query string or trailing slash.
 */
export function agentRouteClientId(method: string, path: string): string | undefined {
  const match = AGENT_ROUTE.exec(path);
  if (!match) return undefined;
  const wanted = match[2] === undefined ? 'PUT' : 'POST';
  if (method !== wanted) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
  return CLIENT_ID_PATTERN.test(id) ? id : undefined;
}
