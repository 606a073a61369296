import { agentRouteClientId } from './client-routes';

describe('agentRouteClientId', () => {
  it.each([
    ['POST', '/api/clients/aa:bb:cc:dd:ee:ff/heartbeat', 'aa:bb:cc:dd:ee:ff'],
    ['POST', '/api/clients/aa%3Abb/heartbeat', 'aa:bb'],
    ['POST', '/api/clients/agent-1/results', 'agent-1'],
    ['PUT', '/api/clients/agent-1', 'agent-1'],
  ])('%s %s is the route of client %s', (method, path, id) => {
    expect(agentRouteClientId(method, path)).toBe(id);
  });

  it.each([
    ['GET', '/api/clients/agent-1'],
    ['POST', '/api/clients/agent-1'],
    ['PUT', '/api/clients/agent-1/heartbeat'],
    ['POST', '/api/clients/agent-1/approve'],
    ['POST', '/api/clients/-bad/heartbeat'],
    ['POST', '/api/clients/%E0%A4%A/heartbeat'],
    ['GET', '/api/clients'],
    ['POST', '/api/scans/start'],
  ])('%s %s is not an agent route', (method, path) => {
    expect(agentRouteClientId(method, path)).toBeUndefined();
  });
});
